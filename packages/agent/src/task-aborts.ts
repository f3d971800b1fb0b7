import { subjects } from "@baton/contracts";
import type { ServiceContext } from "@baton/core";
import type { Subscription } from "@nats-io/transport-node";

/** How many aborted taskIds a worker remembers. */
const REMEMBERED_ABORTS = 4_096;

/**
 * The in-flight steps of this process, by task, aborted when the supervisor broadcasts
 * `baton.control.abort.<taskId>` (task cancelled or past its deadline). The abort reaches tools
 * and LLM calls through the step's AbortSignal.
 */
export class TaskAborts {
  readonly #byTask = new Map<string, Set<AbortController>>();
  /** Tasks whose abort this process received lately (at most {@link REMEMBERED_ABORTS}, oldest dropped). */
  readonly #ended = new Set<string>();
  readonly #subscription: Subscription;

  constructor(service: ServiceContext) {
    this.#subscription = service.nc.subscribe(subjects.abortAll, {
      callback: (_error, msg) => {
        const taskId = msg.subject.slice(subjects.abort("").length);
        this.#ended.add(taskId);
        if (this.#ended.size > REMEMBERED_ABORTS) {
          const oldest = this.#ended.values().next().value;
          if (oldest !== undefined) this.#ended.delete(oldest);
        }
        const controllers = this.#byTask.get(taskId);
        if (!controllers) return;
        service.logger.info({ taskId, steps: controllers.size }, "aborting in-flight steps");
        for (const c of controllers) c.abort(new Error(`task ${taskId} was cancelled or timed out`));
      },
    });
  }

  /**
   * Whether this process received the abort of `taskId` (cancelled, timed out or failed) — a step
   * of it that arrives later has nothing to do. False says nothing: aborts are core NATS messages.
   */
  hasEnded(taskId: string): boolean {
    return this.#ended.has(taskId);
  }

  /** An AbortController for one step of `taskId`; call `release()` when the step ends. */
  register(taskId: string): { signal: AbortSignal; release(): void } {
    const controller = new AbortController();
    let set = this.#byTask.get(taskId);
    if (!set) {
      set = new Set();
      this.#byTask.set(taskId, set);
    }
    set.add(controller);
    return {
      signal: controller.signal,
      release: () => {
        set.delete(controller);
        if (set.size === 0) this.#byTask.delete(taskId);
      },
    };
  }

  close(): void {
    this.#subscription.unsubscribe();
  }
}
