import { subjects } from "@baton/contracts";
import type { ServiceContext } from "@baton/core";
import type { Subscription } from "@nats-io/transport-node";

/**
 * The in-flight steps of this process, by task, aborted when the supervisor broadcasts
 * `baton.control.abort.<taskId>` (task cancelled or past its deadline). The abort reaches tools
 * and LLM calls through the step's AbortSignal.
 */
export class TaskAborts {
  readonly #byTask = new Map<string, Set<AbortController>>();
  readonly #subscription: Subscription;

  constructor(service: ServiceContext) {
    this.#subscription = service.nc.subscribe(subjects.abortAll, {
      callback: (_error, msg) => {
        const taskId = msg.subject.slice(subjects.abort("").length);
        const controllers = this.#byTask.get(taskId);
        if (!controllers) return;
        service.logger.info({ taskId, steps: controllers.size }, "aborting in-flight steps");
        for (const c of controllers) c.abort(new Error(`task ${taskId} was cancelled or timed out`));
      },
    });
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
