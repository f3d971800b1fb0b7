import { BatonDriver } from "../lib/drivers.ts";
import { median } from "../lib/histogram.ts";
import { sleepPlan } from "../lib/plans.ts";
import { sleepAgent, startBatonStack, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";

export interface ScalingPoint {
  readonly replicas: number;
  /** Sleep steps completed per second (median over runs). */
  readonly stepsPerSecond: number;
  /** throughput(n) / (n × throughput(1)). */
  readonly efficiency: number;
  /** Per-run throughputs. */
  readonly perRun: number[];
  /** Steps per run and the ideal run time (steps × sleep / replicas). */
  readonly steps: number;
  readonly idealSeconds: number;
}

export interface ScalingResults {
  readonly sleepMs: number;
  readonly stepsPerTask: number;
  readonly points: ScalingPoint[];
}

/**
 * Scenario `scaling`: 1, 2 and 4 replicas of the bench sleep agent (bench/sleep-agent.ts, agent
 * "sleep", WORKER_CONCURRENCY=1 so one replica = one slot) behind the real supervisor and
 * synthesizer. Each run submits at once enough tasks of `stepsPerTask` parallel `sleep_ms`
 * steps to give every replica `stepsPerReplica` steps, and measures from the first submission
 * to the last outcome. Efficiency = throughput(n) / (n × throughput(1)).
 */
export async function runScalingScenario(
  options: { runs: number; stepsPerReplica: number; sleepMs: number; replicas: readonly number[] },
  log: (line: string) => void,
): Promise<ScalingResults> {
  const stepsPerTask = 4;
  const stack = await startBatonStack("scaling", [{ spec: SUPERVISOR }, { spec: SYNTHESIZER }, { spec: sleepAgent(1), replicas: 1 }]);
  const driver = await BatonDriver.connect(stack.url, "s");
  const points: ScalingPoint[] = [];
  let running = 1;
  try {
    for (const n of options.replicas) {
      if (n > running) await stack.add(sleepAgent(1), n - running);
      running = Math.max(running, n);
      const batch = async (steps: number) => {
        const tasks = Math.ceil(steps / stepsPerTask);
        const started = performance.now();
        await Promise.all(
          Array.from({ length: tasks }, () => driver.runPlan(sleepPlan(stepsPerTask, options.sleepMs), { timeoutMs: 120_000 })),
        );
        return { steps: tasks * stepsPerTask, seconds: (performance.now() - started) / 1_000 };
      };
      await batch(2 * n * stepsPerTask); // warm-up: every replica runs a few steps; discarded
      const perRun: number[] = [];
      let steps = 0;
      for (let r = 0; r < options.runs; r++) {
        const result = await batch(options.stepsPerReplica * n);
        steps = result.steps;
        perRun.push(result.steps / result.seconds);
      }
      const stepsPerSecond = median(perRun);
      const base = points[0]?.stepsPerSecond ?? stepsPerSecond;
      const point: ScalingPoint = {
        replicas: n,
        stepsPerSecond,
        efficiency: stepsPerSecond / (n * base),
        perRun,
        steps,
        idealSeconds: (steps * options.sleepMs) / 1_000 / n,
      };
      points.push(point);
      log(
        `  ${n} replica(s): ${stepsPerSecond.toFixed(2)} steps/s (runs: ${perRun.map((x) => x.toFixed(2)).join(", ")}), efficiency ${point.efficiency.toFixed(3)}`,
      );
    }
  } finally {
    await driver.close();
    await stack.stop();
  }
  return { sleepMs: options.sleepMs, stepsPerTask, points };
}
