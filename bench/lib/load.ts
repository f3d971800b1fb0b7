import { type LatencySummary, median, medianSummary, newHistogram, recordMs, summarize } from "./histogram.ts";
import type { Driver } from "./drivers.ts";
import type { Shape } from "./plans.ts";
import { type CpuProbe, cpuPerTask } from "./procfs.ts";

/** How much load a pattern scenario applies; `full` and `quick` presets in bench/run.ts. */
export interface LoadConfig {
  /** Measured runs per figure; each figure is the median over runs. */
  readonly runs: number;
  /** Warm-up tasks (3-step and fan-out mixed) run once per stack and discarded. */
  readonly warmupTasks: number;
  /** Sequential (concurrency 1) tasks per latency run. */
  readonly chain1Tasks: number;
  readonly chain3Tasks: number;
  readonly fanoutTasks: number;
  /** Closed-loop throughput: tasks in flight and seconds per run. */
  readonly throughputConcurrency: number;
  readonly throughputSeconds: number;
}

/** Runs `count` tasks one after another (concurrency 1). */
export async function sequential(driver: Driver, shape: Shape, count: number): Promise<LatencySummary> {
  const h = newHistogram();
  for (let i = 0; i < count; i++) recordMs(h, await driver.run(shape));
  return summarize(h);
}

/** Throughput of one closed-loop run: `concurrency` clients each submit a task as soon as their previous one ends. */
export interface ThroughputRun {
  readonly tasks: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly latency: LatencySummary;
}

export async function closedLoop(driver: Driver, shape: Shape, concurrency: number, seconds: number): Promise<ThroughputRun> {
  const h = newHistogram();
  let tasks = 0;
  const started = performance.now();
  const deadline = started + seconds * 1_000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        recordMs(h, await driver.run(shape));
        tasks++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1_000;
  return { tasks, seconds: elapsed, perSecond: tasks / elapsed, latency: summarize(h) };
}

/** The figures of one pattern scenario (raw or Baton): each the median over `runs` runs. */
export interface PatternResults {
  readonly runs: number;
  readonly chain1: LatencySummary;
  readonly chain3: LatencySummary;
  readonly fanout: LatencySummary;
  /** 3-step tasks per second with `throughputConcurrency` in flight. */
  readonly throughput: number;
  readonly throughputLatency: LatencySummary;
  readonly throughputTasks: number;
  /** CPU ms per 3-step task by process (procfs), at concurrency 1 and under the throughput load; sums over all runs. */
  readonly cpu?: { sequential: Record<string, number>; loaded: Record<string, number> };
  /** How long the stack's processes took to become quiet after start (before the warm-up), in ms. */
  readonly settledMs?: number;
  /** Per-run values, for the spread. */
  readonly perRun: {
    chain1P50: number[];
    chain3P50: number[];
    chain1P99: number[];
    chain3P99: number[];
    fanoutP50: number[];
    throughput: number[];
  };
}

/** Warm-up (discarded), then `runs` rounds of: chain1 latency, chain3 latency, fan-out latency, chain3 throughput. */
export async function measurePatterns(
  driver: Driver,
  config: LoadConfig,
  log: (line: string) => void,
  probe?: CpuProbe,
): Promise<PatternResults> {
  for (let i = 0; i < config.warmupTasks; i++) await driver.run(i % 10 === 9 ? "fanout16" : "chain3");
  await closedLoop(driver, "chain3", config.throughputConcurrency, Math.min(1, config.throughputSeconds));
  const chain1: LatencySummary[] = [];
  const chain3: LatencySummary[] = [];
  const fanout: LatencySummary[] = [];
  const throughput: ThroughputRun[] = [];
  const cpuSeq = new Map<string, number>();
  const cpuLoad = new Map<string, number>();
  const addCpu = (into: Map<string, number>, before: Map<string, number>, after: Map<string, number>) => {
    for (const [role, v] of after) into.set(role, (into.get(role) ?? 0) + v - (before.get(role) ?? 0));
  };
  for (let r = 0; r < config.runs; r++) {
    driver.detail = true; // per-task details (e.g. tool durations) from the latency runs only
    chain1.push(await sequential(driver, "chain1", config.chain1Tasks));
    const before = probe?.();
    chain3.push(await sequential(driver, "chain3", config.chain3Tasks));
    if (probe && before) addCpu(cpuSeq, before, probe());
    fanout.push(await sequential(driver, "fanout16", config.fanoutTasks));
    driver.detail = false;
    const beforeLoad = probe?.();
    throughput.push(await closedLoop(driver, "chain3", config.throughputConcurrency, config.throughputSeconds));
    if (probe && beforeLoad) addCpu(cpuLoad, beforeLoad, probe());
    const t = throughput.at(-1);
    log(
      `  run ${r + 1}/${config.runs}: 1-step p50 ${fmt(chain1.at(-1)?.p50)} ms, 3-step p50 ${fmt(chain3.at(-1)?.p50)} ms, ` +
        `fan-out p50 ${fmt(fanout.at(-1)?.p50)} ms, ${fmt(t?.perSecond, 1)} tasks/s (${t?.tasks} tasks)`,
    );
  }
  return {
    runs: config.runs,
    chain1: medianSummary(chain1),
    chain3: medianSummary(chain3),
    fanout: medianSummary(fanout),
    throughput: median(throughput.map((t) => t.perSecond)),
    throughputLatency: medianSummary(throughput.map((t) => t.latency)),
    throughputTasks: median(throughput.map((t) => t.tasks)),
    ...(probe
      ? {
          cpu: {
            sequential: cpuPerTask(new Map(), cpuSeq, config.chain3Tasks * config.runs),
            loaded: cpuPerTask(
              new Map(),
              cpuLoad,
              throughput.reduce((a, t) => a + t.tasks, 0),
            ),
          },
        }
      : {}),
    perRun: {
      chain1P50: chain1.map((s) => s.p50),
      chain3P50: chain3.map((s) => s.p50),
      chain1P99: chain1.map((s) => s.p99),
      chain3P99: chain3.map((s) => s.p99),
      fanoutP50: fanout.map((s) => s.p50),
      throughput: throughput.map((t) => t.perSecond),
    },
  };
}

export function fmt(value: number | undefined, digits = 2): string {
  return value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}
