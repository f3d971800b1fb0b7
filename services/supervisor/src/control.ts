import { type ErrorInfo, KV_BUCKETS, subjects, TaskCancel, type TaskState } from "@baton/contracts";
import { auditId } from "@baton/audit";
import { contextFromCarrier, decodeJson, type Logger, openKv, type ServiceContext, type TaskStore } from "@baton/core";
import { context } from "@opentelemetry/api";
import type { JsMsg } from "@nats-io/jetstream";
import type { DispatchWatchdog } from "./dispatch-watchdog.ts";
import type { TaskEffects } from "./effects.ts";
import { awaitsApproval, failTask, timeOutTask, type Transition } from "./task-machine.ts";

/** What ending tasks needs: the service, task state and the effects of a transition. */
export interface TaskControl {
  readonly service: ServiceContext;
  readonly store: TaskStore;
  readonly effects: TaskEffects;
}

/**
 * Ends a running task by `end` (compare-and-set, so of several replicas or a cancel racing a
 * deadline exactly one wins), publishes its failure outcome and broadcasts the abort on
 * `baton.control.abort.<taskId>` so workers stop its in-flight steps.
 * @returns the transition, or undefined when `end` changed nothing (unknown or finished task, …).
 */
export async function endTask(
  ctl: TaskControl,
  taskId: string,
  end: (state: TaskState, now: Date) => Transition | undefined,
  log: Logger,
): Promise<Transition | undefined> {
  const transition = await ctl.store.update(taskId, (state) => end(state, new Date()));
  if (!transition) return undefined;
  // Not inside any message's span (a timer or a cancel): join the task's own trace.
  await context.with(contextFromCarrier(transition.state), () => ctl.effects.apply(transition, log));
  const error = transition.state.error;
  ctl.service.nc.publish(subjects.abort(taskId), JSON.stringify({ taskId, code: error?.code }));
  log.warn({ code: error?.code }, `task ended: ${error?.message}`);
  return transition;
}

/** Handles one message from `tasks.cancel`. An invalid or late cancellation is logged and acked. */
export async function handleCancel(ctl: TaskControl, msg: JsMsg): Promise<void> {
  const decoded = decodeJson(msg.data, TaskCancel);
  if (!decoded.ok) {
    ctl.service.logger.warn({ error: decoded.error }, "invalid cancellation ignored");
    return;
  }
  const { taskId, reason } = decoded.value;
  const log = ctl.service.logger.child({ taskId });
  const error: ErrorInfo = { code: "CANCELLED", message: `cancelled${reason ? `: ${reason}` : ""}`, retryable: false };
  if (!(await endTask(ctl, taskId, (state, now) => failTask(state, error, now), log))) {
    log.info("cancellation of an unknown or finished task ignored");
    return;
  }
  ctl.effects.audit.record({
    id: auditId("cancellation", taskId),
    kind: "cancellation",
    taskId,
    details: { ...(reason ? { reason } : {}), stream: msg.info.stream, seq: msg.seq },
  });
}

/**
 * Fails tasks whose deadline (`deadlineAt`, from the submission's `timeoutMs` or TASK_TIMEOUT_MS,
 * moved on by time spent waiting for approvals) passes with `TASK_TIMEOUT`. One timer per
 * running task this replica has seen; at start every running task in KV is armed, so a restarted
 * supervisor keeps enforcing them. A timer that finds the deadline moved re-arms itself; one that
 * finds a step waiting for a person leaves the task to the approval's decision or expiry, which
 * arms the moved deadline.
 */
export class DeadlineWatch {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #service: ServiceContext;
  readonly #ctl: TaskControl;
  readonly #store: TaskStore;
  readonly #watchdog: DispatchWatchdog | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;

  /** With `watchdog`, the tracked tasks are also swept for lost work every `sweepMs`. */
  constructor(ctl: TaskControl, watchdog?: { watchdog: DispatchWatchdog; sweepMs: number }) {
    this.#ctl = ctl;
    this.#service = ctl.service;
    this.#store = ctl.store;
    this.#watchdog = watchdog?.watchdog;
    if (watchdog) {
      this.#sweeper = setInterval(() => void this.#sweep(), watchdog.sweepMs);
      this.#sweeper.unref();
    }
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping || !this.#watchdog) return;
    this.#sweeping = true;
    try {
      for (const taskId of [...this.#timers.keys()]) {
        const watching = await this.#watchdog.check(taskId).catch((error: unknown) => {
          this.#service.logger.warn({ err: error, taskId }, "dispatch watchdog check failed");
          return true;
        });
        if (!watching) {
          clearTimeout(this.#timers.get(taskId));
          this.#timers.delete(taskId);
        }
      }
    } finally {
      this.#sweeping = false;
    }
  }

  /** Arms the deadline of every running task in `baton_tasks`. */
  async armAll(): Promise<void> {
    const kv = await openKv(this.#service.nc, KV_BUCKETS.tasks);
    let armed = 0;
    for await (const key of await kv.keys()) {
      const current = await this.#store.get(key);
      if (current?.state.status === "running") {
        this.arm(key, current.state.deadlineAt);
        armed++;
      }
    }
    this.#service.logger.info({ armed }, "task deadlines armed");
  }

  /** Arms one task's deadline unless it is armed already; a deadline already past fires at once. */
  arm(taskId: string, deadlineAt: string): void {
    if (this.#timers.has(taskId)) return;
    const delay = Math.max(0, Math.min(Date.parse(deadlineAt) - Date.now(), 2 ** 31 - 1));
    const timer = setTimeout(() => {
      this.#timers.delete(taskId);
      const log = this.#service.logger.child({ taskId });
      this.#fire(taskId, log).catch((e: unknown) => {
        // Retry soon: a transient KV or publish failure must not leave the task running forever.
        log.error({ err: e }, "could not end a task past its deadline; retrying in 1 s");
        setTimeout(() => this.arm(taskId, deadlineAt), 1_000).unref();
      });
    }, delay);
    timer.unref();
    this.#timers.set(taskId, timer);
  }

  async #fire(taskId: string, log: Logger): Promise<void> {
    if (await endTask(this.#ctl, taskId, timeOutTask, log)) return;
    const current = await this.#store.get(taskId);
    // Still running: its deadline moved on (time spent waiting for a person), or a step waits for
    // one now — then the decision or the approval's expiry arms it again.
    if (current?.state.status === "running" && !awaitsApproval(current.state)) {
      this.arm(taskId, current.state.deadlineAt);
    }
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
