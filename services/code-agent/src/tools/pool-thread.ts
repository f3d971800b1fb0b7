import { type ResourceLimits, Worker } from "node:worker_threads";
import { ToolError } from "@baton/tools";
import type { StartWorker, WorkerMessage } from "./worker-pool.ts";

/** Options of {@link threadWorkers}. */
export interface ThreadWorkerOptions {
  /** What one worker is called in error messages, e.g. "sandbox thread". */
  readonly name: string;
  /** Given to every thread as `workerData` (structured clone). */
  readonly workerData?: unknown;
  /** V8 limits of each thread; default Node's. */
  readonly resourceLimits?: ResourceLimits;
}

/**
 * The worker-thread backend of a {@link WorkerPool}: each worker is a thread running `entry`, which posts
 * `"ready"` and then answers each request with one {@link WorkerMessage}. Stopping is `worker.terminate()`,
 * which V8 delivers even inside a busy loop in JavaScript or WebAssembly (~2 ms). An uncaught exception,
 * `process.exit` or running out of memory in the thread ends that thread only: its call fails with
 * `TOOL_FAILED`, not retryable (the same request would most likely end it again).
 */
export function threadWorkers<I, O>(entry: URL, options: ThreadWorkerOptions): StartWorker<I, O> {
  const { name } = options;
  return (events) => {
    const worker = new Worker(entry, {
      workerData: options.workerData,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    let ended = false;
    const end = (error: ToolError) => {
      if (ended) return;
      ended = true;
      events.exit(error);
      worker.terminate().catch(() => {});
    };
    worker.on("message", (message: WorkerMessage<O>) => {
      if (!ended) events.message(message);
    });
    worker.on("messageerror", (error) => end(new ToolError("TOOL_FAILED", `the ${name} sent an unreadable message: ${error.message}`)));
    worker.on("error", (error: Error & { code?: string }) => {
      const what = error.code === "ERR_WORKER_OUT_OF_MEMORY" ? "ran out of memory" : `crashed: ${error.message}`;
      end(new ToolError("TOOL_FAILED", `the ${name} ${what}`, { cause: error }));
    });
    worker.on("exit", (code) => end(new ToolError("TOOL_FAILED", `the ${name} exited (code ${code})`)));
    return {
      post: (request) => worker.postMessage(request),
      kill: () => {
        ended = true;
        worker.terminate().catch(() => {});
      },
      hold: (on) => (on ? worker.ref() : worker.unref()),
    };
  };
}
