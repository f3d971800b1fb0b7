import { KV_BUCKETS, TaskState } from "@baton/contracts";
import { TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { openKv } from "./provision.ts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** A task's state and the KV revision it was read at. */
export interface Versioned {
  readonly state: TaskState;
  readonly revision: number;
}

/**
 * Task state in the JetStream KV bucket `baton_tasks` (key = taskId). Every write is a
 * compare-and-set on the revision, so two supervisor replicas (or a redelivered message)
 * can never both move a task on from the same state.
 */
export class TaskStore {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection): Promise<TaskStore> {
    return new TaskStore(await openKv(nc, KV_BUCKETS.tasks));
  }

  /** Creates the task's state. @returns false when a task with this id already exists. */
  async create(state: TaskState): Promise<boolean> {
    try {
      await this.#kv.create(state.taskId, JSON.stringify(TaskState.parse(state)));
      return true;
    } catch (error) {
      if (isWrongSequence(error)) return false;
      throw new TransientError(`could not create task ${state.taskId}`, error);
    }
  }

  /** The current state, or undefined when the task is unknown. */
  async get(taskId: string): Promise<Versioned | undefined> {
    const entry = await this.#kv.get(taskId);
    if (!entry || entry.operation !== "PUT") return undefined;
    return { state: TaskState.parse(entry.json()), revision: entry.revision };
  }

  /**
   * Read–modify–write with compare-and-set, retried on conflict (up to 20 times).
   * `change` (sync or async) returns the new value with any payload, or undefined for "no change".
   * @returns the change's payload, or undefined when the task is unknown or unchanged.
   * @throws TransientError when conflicts persist.
   */
  async update<T extends { state: TaskState }>(
    taskId: string,
    change: (current: TaskState) => T | undefined | Promise<T | undefined>,
  ): Promise<T | undefined> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const current = await this.get(taskId);
      if (!current) return undefined;
      const next = await change(current.state);
      if (!next) return undefined;
      try {
        await this.#kv.update(taskId, JSON.stringify(TaskState.parse(next.state)), current.revision);
        return next;
      } catch (error) {
        if (!isWrongSequence(error)) throw new TransientError(`could not update task ${taskId}`, error);
      }
    }
    throw new TransientError(`task ${taskId}: too many concurrent updates`);
  }
}
