/**
 * The entry of a sandbox thread (started by sandbox.ts through the worker pool): loads QuickJS with the limits
 * in `workerData`, posts "ready", then runs one script per message and posts one reply for each. Imports
 * QuickJS and the runner only, so a replacement thread is ready in ~40 ms.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { SandboxLimits } from "./sandbox-limits.ts";
import { createScriptRunner, ScriptFailure, type ScriptRequest, type ScriptResult } from "./script-runner.ts";
import type { WorkerMessage } from "./worker-pool.ts";

/** What a sandbox thread receives as `workerData`. */
export interface SandboxThreadData {
  readonly limits: SandboxLimits;
}

if (parentPort) {
  const port = parentPort;
  const post = (message: WorkerMessage<ScriptResult>) => port.postMessage(message);
  const run = await createScriptRunner((workerData as SandboxThreadData).limits);
  port.on("message", (request: ScriptRequest) => {
    run(request).then(
      (output) => post({ ok: true, output }),
      (error: unknown) =>
        post(
          error instanceof ScriptFailure
            ? { ok: false, code: error.code, message: error.message }
            : { ok: false, code: "TOOL_FAILED", message: `sandbox failed: ${error instanceof Error ? error.message : String(error)}` },
        ),
    );
  });
  post("ready");
}
