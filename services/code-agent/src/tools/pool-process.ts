import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ToolError } from "@baton/tools";
import type { StartWorker, WorkerMessage } from "./worker-pool.ts";

/** Options of {@link processWorkers}. */
export interface ProcessWorkerOptions {
  /** What one worker is called in error messages, e.g. "expression evaluator". */
  readonly name: string;
  /** Arguments of `entry`. Default none. */
  readonly args?: readonly string[];
  /** Node flags added to the inherited ones (minus `--inspect*`, whose port is taken), e.g. a heap limit. */
  readonly execArgv?: readonly string[];
  /**
   * The error a call fails with when its process ends by itself, from its exit code and signal. Default:
   * `TOOL_FAILED` "the <name> exited (code <code or signal>)", not retryable (the same request would most
   * likely end it again).
   */
  readonly describeExit?: (code: number | null, signal: NodeJS.Signals | null) => ToolError;
}

/**
 * The child-process backend of a {@link WorkerPool}: each worker is `node <entry>` with an IPC channel,
 * which sends `"ready"` and then answers each request with one {@link WorkerMessage}. Stopping is SIGKILL.
 * For code whose V8 heap a request can fill (mathjs): a process that dies of it takes nobody else along.
 */
export function processWorkers<I, O>(entry: URL, options: ProcessWorkerOptions): StartWorker<I, O> {
  const { name } = options;
  const describeExit =
    options.describeExit ?? ((code, signal) => new ToolError("TOOL_FAILED", `the ${name} exited (code ${code ?? signal})`));
  return (events) => {
    const child = fork(fileURLToPath(entry), [...(options.args ?? [])], {
      execArgv: [...process.execArgv.filter((a) => !a.startsWith("--inspect")), ...(options.execArgv ?? [])],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let ended = false;
    const end = (error: ToolError) => {
      if (ended) return;
      ended = true;
      events.exit(error);
      child.kill("SIGKILL");
    };
    child.on("message", (message: WorkerMessage<O>) => {
      if (!ended) events.message(message);
    });
    child.on("error", (error) => end(new ToolError("TOOL_FAILED", `the ${name} failed: ${error.message}`, { retryable: true })));
    child.on("exit", (code, signal) => end(describeExit(code, signal)));
    return {
      post: (request) => {
        child.send(request as Parameters<typeof child.send>[0], (error) => {
          if (error) end(new ToolError("TOOL_FAILED", `the ${name} is unreachable: ${error.message}`, { retryable: true }));
        });
      },
      kill: () => {
        ended = true;
        child.kill("SIGKILL");
      },
      hold: (on) => {
        if (on) {
          child.ref();
          child.channel?.ref();
        } else {
          child.unref();
          child.channel?.unref();
        }
      },
    };
  };
}
