import { KV_BUCKETS, TaskState } from "@baton/contracts";
import { TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { connectionWatch, retryWhileUnavailable, unlessDisconnected } from "./nats.ts";
import { PerKeyQueue } from "./per-key-queue.ts";
import { openKv } from "./provision.ts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** A task's state and the KV revision it was read at. */
export interface Versioned {
  readonly state: TaskState;
  readonly revision: number;
}

/** Whether the task has reached a final status (`completed` or `failed`): nothing of it runs any more. */
export function isTaskEnded(state: Pick<TaskState, "status">): boolean {
  return state.status === "completed" || state.status === "failed";
}

/**
 * Where one dispatch of a step (a work message) stands against the task's state:
 * - `current`: the task still waits for exactly this dispatch (the step, or its compensation, is
 *   `dispatched` with this dispatch id, and the task runs, or compensates for a compensation);
 * - `stale`: the task is past it — ended, or the step (compensation) finished or was dispatched
 *   again as a later attempt — so running it would change nothing; its message can go;
 * - `unknown`: the state is behind the message (a state write lost by a killed nats-server) or
 *   names no such step: it is not safe to call it stale.
 */
export type DispatchStanding = "current" | "stale" | "unknown";

/** Decides the {@link DispatchStanding} of the dispatch `work` of one step (or compensation) of `state`. */
export function dispatchStanding(
  state: TaskState,
  work: { readonly stepId: string; readonly dispatchId: string; readonly attempt: number; readonly kind?: "step" | "compensation" },
): DispatchStanding {
  if (isTaskEnded(state)) return "stale";
  if (work.kind === "compensation") {
    // A compensation is dispatched only while the task compensates; running = the state is behind.
    if (state.status === "running") return "unknown";
    if (state.status !== "compensating") return "stale";
    const comp = state.compensations?.find((c) => c.stepId === work.stepId);
    if (!comp) return "unknown";
    if (comp.status === "dispatched" && comp.dispatchId === work.dispatchId) return "current";
    return comp.status === "completed" || comp.status === "failed" || comp.attempt >= work.attempt ? "stale" : "unknown";
  }
  const step = state.steps[work.stepId];
  if (!step) return "unknown";
  // Synthesizing or compensating: every step of the plan has its result, or will never run.
  if (state.status !== "running") return "stale";
  if (step.status === "dispatched" && step.dispatchId === work.dispatchId) return "current";
  if (step.status === "completed" || step.status === "failed" || step.status === "skipped") return "stale";
  return step.attempt >= work.attempt ? "stale" : "unknown";
}

/** How many tasks' last written state a {@link TaskStore} keeps to skip the read before a write. */
const RECENT_WRITES = 1_024;

/** Options of {@link TaskStore.open}. */
export interface TaskStoreOptions {
  /**
   * How long a read is retried while the broker is unavailable (a nats-server restart), in ms;
   * default 10,000. Writes are not retried here: a compare-and-set whose reply was lost may have
   * landed, and only the caller knows how to go on.
   */
  readonly readRetryMs?: number;
}

/**
 * Task state in the JetStream KV bucket `baton_tasks` (key = taskId). Every write is a
 * compare-and-set on the revision, so two supervisor replicas (or a redelivered message)
 * can never both move a task on from the same state. Failures of NATS are thrown as
 * {@link TransientError} (retryable).
 */
export class TaskStore {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #readRetryMs: number;
  /**
   * The state this process last wrote per task, with its revision (at most
   * {@link RECENT_WRITES} tasks, oldest dropped first): {@link update} tries it before reading.
   * Never trusted without a compare-and-set; like every state handed to `change`, never modified
   * (the state machine copies before it changes anything).
   */
  readonly #written = new Map<string, Versioned>();
  /** The updates of each task in this process, one at a time (see {@link update}). */
  readonly #queue = new PerKeyQueue();

  private constructor(kv: KV, nc: NatsConnection, readRetryMs: number) {
    this.#kv = kv;
    this.#nc = nc;
    this.#readRetryMs = readRetryMs;
  }

  static async open(nc: NatsConnection, options: TaskStoreOptions = {}): Promise<TaskStore> {
    return new TaskStore(await openKv(nc, KV_BUCKETS.tasks), nc, options.readRetryMs ?? 10_000);
  }

  /** Creates the task's state. @returns false when a task with this id already exists. */
  async create(state: TaskState): Promise<boolean> {
    await this.#connected();
    try {
      const parsed = TaskState.parse(state);
      const value = JSON.stringify(parsed);
      const revision = await unlessDisconnected(() => this.#kv.create(state.taskId, value), {
        what: `create task ${state.taskId}`,
        nc: this.#nc,
      });
      this.#remember(state.taskId, { state: parsed, revision });
      return true;
    } catch (error) {
      if (isWrongSequence(error)) return false;
      if (error instanceof TransientError) throw error;
      throw new TransientError(`could not create task ${state.taskId}`, error);
    }
  }

  /**
   * The current state, or undefined when the task is unknown. Retried while the broker is
   * unavailable (up to `readRetryMs`).
   * @throws TransientError when it stays unreachable.
   */
  async get(taskId: string): Promise<Versioned | undefined> {
    let entry: Awaited<ReturnType<KV["get"]>>;
    try {
      entry = await retryWhileUnavailable(() => this.#kv.get(taskId), {
        what: `read task ${taskId}`,
        forMs: this.#readRetryMs,
        nc: this.#nc,
      });
    } catch (error) {
      if (error instanceof TransientError) throw error;
      throw new TransientError(`could not read task ${taskId}`, error);
    }
    if (!entry || entry.operation !== "PUT") return undefined;
    return { state: TaskState.parse(entry.json()), revision: entry.revision };
  }

  /**
   * Read–modify–write with compare-and-set, retried on conflict (up to 20 times).
   * `change` (sync or async) returns the new value with any payload, or undefined for "no change";
   * it must not modify the state it is given. It is first given the state this process last
   * wrote for the task, if any (no read: the common case of one supervisor moving its own task
   * on); when that is stale the compare-and-set fails, or `change` finds nothing to do, and it is
   * given the state read from the bucket instead. "No change" is only believed of a state read
   * from the bucket. Updates of one task from this process run one at a time, in call order;
   * `change` must not itself update the same task (it would wait for itself).
   * @returns the change's payload, or undefined when the task is unknown or unchanged.
   * @throws TransientError when conflicts persist or NATS fails (a write whose reply was lost may
   *   have landed: the caller's retry reads it back, and `change` then sees it).
   */
  async update<T extends { state: TaskState }>(
    taskId: string,
    change: (current: TaskState) => T | undefined | Promise<T | undefined>,
  ): Promise<T | undefined> {
    // One update per task at a time in this process: results of a fan-in arriving together are
    // applied one after another on the state written last, instead of all reading the same
    // revision and all but one failing their compare-and-set (and reading again).
    return this.#queue.run(taskId, () => this.#update(taskId, change));
  }

  async #update<T extends { state: TaskState }>(
    taskId: string,
    change: (current: TaskState) => T | undefined | Promise<T | undefined>,
  ): Promise<T | undefined> {
    let guess = this.#written.get(taskId);
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = guess ?? (await this.get(taskId));
      const read = guess === undefined;
      guess = undefined;
      if (!current) return undefined;
      const next = await change(current.state);
      if (!next) {
        if (read) return undefined;
        continue; // decided on what this process wrote last: ask the bucket
      }
      await this.#connected();
      try {
        // Not parsed again: a state the state machine derived from a parsed one (readers parse).
        const value = JSON.stringify(next.state);
        const revision = await unlessDisconnected(() => this.#kv.update(taskId, value, current.revision), {
          what: `update task ${taskId}`,
          nc: this.#nc,
        });
        this.#remember(taskId, { state: next.state, revision });
        return next;
      } catch (error) {
        this.#written.delete(taskId);
        if (error instanceof TransientError) throw error;
        if (!isWrongSequence(error)) throw new TransientError(`could not update task ${taskId}`, error);
      }
    }
    throw new TransientError(`task ${taskId}: too many concurrent updates`);
  }

  #remember(taskId: string, written: Versioned): void {
    this.#written.delete(taskId); // re-inserted last: the Map's order is the order of writes
    if (isTaskEnded(written.state)) return; // nothing moves an ended task on: keep memory for running ones
    this.#written.set(taskId, written);
    if (this.#written.size > RECENT_WRITES) {
      const oldest = this.#written.keys().next().value;
      if (oldest !== undefined) this.#written.delete(oldest);
    }
  }

  /**
   * Waits (up to `readRetryMs`) for a lost connection to come back before a write: what is
   * published while disconnected is dropped by the client and would only time out. A write is
   * never sent twice here; one in flight when the connection drops fails with a TransientError.
   */
  async #connected(): Promise<void> {
    await connectionWatch(this.#nc).whenConnected(this.#readRetryMs);
  }
}
