import { subjects } from "@baton/contracts";
import { BatonDriver } from "../lib/drivers.ts";
import { median } from "../lib/histogram.ts";
import { sleepPlan } from "../lib/plans.ts";
import { sleepAgent, startBatonStack, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";

export interface RecoveryRun {
  /** kill -9 → the step's `step.started` from another replica (the redelivery). */
  readonly redeliveryMs: number;
  /** kill -9 → the task's outcome on `tasks.completed.<taskId>`. */
  readonly recoveryMs: number;
  readonly victim: string;
  readonly rescuer: string;
}

export interface RecoveryResults {
  /** ack_wait of BATON_WORK / sleep-agent read back from the server, in ms. */
  readonly ackWaitMs: number;
  readonly stepMs: number;
  readonly killAfterMs: number;
  readonly runs: RecoveryRun[];
  readonly recoveryMs: number;
  readonly redeliveryMs: number;
}

/**
 * Scenario `recovery`: the supervisor, the synthesizer and two replicas of the bench sleep agent,
 * every service with WORK_ACK_WAIT_MS=5000. A task with one `sleep_ms` step of `stepMs`
 * starts on one replica; `killAfterMs` later that replica gets SIGKILL. Measured from the kill:
 * the redelivered step starting on the other replica, and the task's outcome. A fresh replica
 * replaces the killed one before the next run.
 */
export async function runRecoveryScenario(
  options: { runs: number; stepMs: number; killAfterMs: number; workAckWaitMs: number },
  log: (line: string) => void,
): Promise<RecoveryResults> {
  const env = { WORK_ACK_WAIT_MS: String(options.workAckWaitMs) };
  const stack = await startBatonStack("recovery", [{ spec: SUPERVISOR }, { spec: SYNTHESIZER }, { spec: sleepAgent(1), replicas: 2 }], env);
  const driver = await BatonDriver.connect(stack.url, "k");
  const runs: RecoveryRun[] = [];
  try {
    const info = await stack.jsm.consumers.info("BATON_WORK", "sleep-agent");
    const ackWaitMs = (info.config.ack_wait ?? Number.NaN) / 1_000_000;
    log(`  ack_wait in force on BATON_WORK/sleep-agent: ${ackWaitMs} ms (max_deliver ${info.config.max_deliver})`);
    await driver.runPlan(sleepPlan(1, 50)); // warm-up
    for (let r = 0; r < options.runs; r++) {
      const taskId = driver.nextTaskId();
      const started: { at: number; worker: string }[] = [];
      let notify: (() => void) | undefined;
      const sub = driver.nc.subscribe(subjects.eventsOf(taskId), {
        callback: (_err, msg) => {
          const event = msg.json<{ type: string; worker?: string }>();
          if (event.type === "step.started" && event.worker) {
            started.push({ at: performance.now(), worker: event.worker });
            notify?.();
          }
        },
      });
      await driver.nc.flush();
      const nextStart = (count: number, timeoutMs: number) =>
        new Promise<{ at: number; worker: string }>((resolve, reject) => {
          const check = () => {
            const s = started[count - 1];
            if (s) {
              clearTimeout(timer);
              resolve(s);
            }
          };
          const timer = setTimeout(() => reject(new Error(`no step.started #${count} within ${timeoutMs} ms`)), timeoutMs);
          notify = check;
          check();
        });
      const outcome = driver.runPlan(sleepPlan(1, options.stepMs), { taskId, timeoutMs: ackWaitMs + options.stepMs + 60_000 });
      const first = await nextStart(1, 15_000);
      const victim = stack.processes.find((p) => p.label === first.worker && !p.done);
      if (!victim) throw new Error(`step started on ${first.worker}, which is not a replica this bench started`);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, options.killAfterMs - (performance.now() - first.at))));
      const killedAt = performance.now();
      await victim.kill();
      const second = await nextStart(2, ackWaitMs + 30_000);
      await outcome;
      const doneAt = performance.now();
      sub.unsubscribe();
      const run: RecoveryRun = {
        redeliveryMs: second.at - killedAt,
        recoveryMs: doneAt - killedAt,
        victim: victim.label,
        rescuer: second.worker,
      };
      runs.push(run);
      log(
        `  run ${r + 1}/${options.runs}: killed ${run.victim} ${options.killAfterMs} ms into the step; redelivered to ${run.rescuer} after ` +
          `${run.redeliveryMs.toFixed(0)} ms; outcome ${run.recoveryMs.toFixed(0)} ms after the kill`,
      );
      await stack.add(sleepAgent(1), 1, env); // back to two replicas
    }
    return {
      ackWaitMs,
      stepMs: options.stepMs,
      killAfterMs: options.killAfterMs,
      runs,
      recoveryMs: median(runs.map((r) => r.recoveryMs)),
      redeliveryMs: median(runs.map((r) => r.redeliveryMs)),
    };
  } finally {
    await driver.close();
    await stack.stop();
  }
}
