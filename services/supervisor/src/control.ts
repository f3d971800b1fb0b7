import { type ErrorInfo, KV_BUCKETS, subjects, TaskCancel } from "@baton/contracts";
import { contextFromCarrier, decodeJson, type Logger, openKv, type ServiceContext, type TaskStore } from "@baton/core";
import { context } from "@opentelemetry/api";
import type { JsMsg } from "@nats-io/jetstream";
import type { DispatchWatchdog } from "./dispatch-watchdog.ts";
import { applyEffects } from "./effects.ts";
import { failTask } from "./task-machine.ts";

/**
 * Ends a running task with `error` (compare-and-set, so of several replicas or a cancel racing a
 * deadline exactly one wins), publishes its failure outcome and broadcasts the abort on
 * `baton.control.abort.<taskId>` so workers stop its in-flight steps.
 * @returns false when the task is unknown or already finished.
 */
export async function endTask(service: ServiceContext, store: TaskStore, taskId: string, error: ErrorInfo, log: Logger): Promise<boolean> {
  const transition = await store.update(taskId, (state) => failTask(state, error, new Date()));
  if (!transition) return false;
  // Not inside any message's span (a timer or a cancel): join the task's own trace.
  await context.with(contextFromCarrier(transition.state), () => applyEffects(service.js, transition, log));
  service.nc.publish(subjects.abort(taskId), JSON.stringify({ taskId, code: error.code }));
  log.warn({ code: error.code }, `task ended: ${error.message}`);
  return true;
}

/** Handles one message from `tasks.cancel`. An invalid or late cancellation is logged and acked. */
export async function handleCancel(service: ServiceContext, store: TaskStore, msg: JsMsg): Promise<void> {
  const decoded = decodeJson(msg.data, TaskCancel);
  if (!decoded.ok) {
    service.logger.warn({ error: decoded.error }, "invalid cancellation ignored");
    return;
  }
  const { taskId, reason } = decoded.value;
  const log = service.logger.child({ taskId });
  const error: ErrorInfo = { code: "CANCELLED", message: `cancelled${reason ? `: ${reason}` : ""}`, retryable: false };
  if (!(await endTask(service, store, taskId, error, log))) log.info("cancellation of an unknown or finished task ignored");
}

/**
 * Fails tasks whose deadline (`deadlineAt`, from the submission's `timeoutMs` or TASK_TIMEOUT_MS)
 * passes with `TASK_TIMEOUT`. One timer per running task this replica has seen; at start every
 * running task in KV is armed, so a restarted supervisor keeps enforcing them.
 */
export class DeadlineWatch {
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #service: ServiceContext;
  readonly #store: TaskStore;
  readonly #watchdog: DispatchWatchdog | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;

  /** With `watchdog`, the tracked tasks are also swept for lost work every `sweepMs`. */
  constructor(service: ServiceContext, store: TaskStore, watchdog?: { watchdog: DispatchWatchdog; sweepMs: number }) {
    this.#service = service;
    this.#store = store;
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

  /** Arms (or re-arms) one task's deadline; a deadline already past fires at once. */
  arm(taskId: string, deadlineAt: string): void {
    if (this.#timers.has(taskId)) return;
    const delay = Math.max(0, Math.min(Date.parse(deadlineAt) - Date.now(), 2 ** 31 - 1));
    const timer = setTimeout(() => {
      this.#timers.delete(taskId);
      const log = this.#service.logger.child({ taskId });
      const error: ErrorInfo = { code: "TASK_TIMEOUT", message: `the task's deadline passed at ${deadlineAt}`, retryable: false };
      endTask(this.#service, this.#store, taskId, error, log).catch((e: unknown) => {
        // Retry soon: a transient KV or publish failure must not leave the task running forever.
        log.error({ err: e }, "could not end a task past its deadline; retrying in 1 s");
        setTimeout(() => this.arm(taskId, deadlineAt), 1_000).unref();
      });
    }, delay);
    timer.unref();
    this.#timers.set(taskId, timer);
  }

  stop(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
