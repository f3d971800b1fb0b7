import { ToolError } from "@baton/tools";
import { threadWorkers } from "./pool-thread.ts";
import { HARD_STOP_GRACE_MS, resolveSandboxLimits, type SandboxLimits, scriptTimeoutMessage } from "./sandbox-limits.ts";
import type { SandboxThreadData } from "./sandbox-thread.ts";
import type { ScriptRequest, ScriptResult } from "./script-runner.ts";
import { WorkerPool } from "./worker-pool.ts";

export {
  HARD_STOP_GRACE_MS,
  MAX_SCRIPT_TIMEOUT_MS,
  MAX_STACK_BYTES,
  SANDBOX_DEFAULTS,
  type SandboxLimits,
} from "./sandbox-limits.ts";

/** Limits of a {@link Sandbox} (unset fields use `SANDBOX_DEFAULTS`) and its number of threads. */
export interface SandboxOptions extends Partial<SandboxLimits> {
  /** Sandbox threads, i.e. scripts that run at once (1..256); more calls wait for a free thread. Default 1. */
  readonly threads?: number;
}

/** One script run. */
export interface SandboxRunRequest {
  /** A function body: `return` gives the result; `await` works on promises settled without I/O. */
  readonly code: string;
  /** Exposed as the deep-frozen global `inputs` (JSON round-tripped). Default `{}`. */
  readonly inputs?: unknown;
  /** Exposed as the deep-frozen global `data` (JSON round-tripped). Default `undefined`. */
  readonly data?: unknown;
  /** Wall-clock limit in ms; default {@link SandboxLimits.defaultTimeoutMs}. */
  readonly timeoutMs?: number;
  /** Aborting stops the script at once: a queued call is dropped, a running one has its thread terminated. */
  readonly signal?: AbortSignal;
  /**
   * Runs with the same key run one after another (the tool uses the task and step), so a step holds at most
   * one thread and never waits for another step's. Default: none.
   */
  readonly key?: string;
}

/** What a successful run returns. */
export interface SandboxRunResult {
  /** The returned value after a JSON round trip; `null` when the script returned nothing. */
  readonly result: unknown;
  /** `console.log/info/warn/error/debug` lines, args joined by spaces, bounded by the log limits. */
  readonly logs: string[];
  /** Wall-clock time of the script in ms, including runtime setup (not the wait for a thread). */
  readonly durationMs: number;
}

/** Runs untrusted JavaScript in a fresh QuickJS runtime per call, on a pool of threads off the caller's event loop. */
export interface Sandbox {
  /** The effective limits. */
  readonly limits: SandboxLimits;
  /** Number of sandbox threads. */
  readonly threads: number;
  /**
   * Runs one script. @throws ToolError `TOOL_TIMEOUT` (time limit or abort; not retryable); `TOOL_FAILED` for
   * syntax and runtime errors, memory or stack limit exceeded, a result that is not JSON or is too large, or a
   * thread that crashed (its call fails, the thread is replaced).
   */
  run(request: SandboxRunRequest): Promise<SandboxRunResult>;
  /** Stops the threads; calls in flight and later fail with `TOOL_FAILED`. */
  close(): void;
}

/**
 * Starts `threads` sandbox threads, each with its own QuickJS WASM module, and returns a {@link Sandbox} once
 * they are ready. Threads rather than processes: QuickJS's heap lives in WebAssembly memory, bounded by
 * `memoryLimitBytes`, so a script cannot push the thread's V8 heap to its limit (the case where a dying
 * worker can take the process down, nodejs/node#47224, which is why mathjs runs in processes);
 * `terminate()` stops a thread busy in WebAssembly in ~2 ms; and a thread costs ~3 MB before use against
 * ~55 MB for a process (both start in ~40-50 ms), which matters with a thread per step slot.
 * Idle threads do not keep the process alive.
 * @throws RangeError when a limit is out of range, notably `maxStackBytes` above `MAX_STACK_BYTES` (0, which
 *   QuickJS reads as "unlimited", is refused too), or `threads` outside 1..256; the thread's error when one
 *   fails to start.
 */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const { threads = 1, ...rest } = options;
  const limits = resolveSandboxLimits(rest);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`sandbox threads must be 1..256, got ${threads}`);
  const name = "sandbox thread";
  const workerData: SandboxThreadData = { limits };
  const pool = new WorkerPool<ScriptRequest, ScriptResult>({
    name,
    size: threads,
    start: threadWorkers(new URL("./sandbox-thread.ts", import.meta.url), { name, workerData }),
  });
  try {
    await pool.ready(); // fail at startup, not on the first call
  } catch (error) {
    pool.close();
    throw error;
  }
  return { limits, threads, run: (request) => runOnPool(pool, limits, request), close: () => pool.close() };
}

async function runOnPool(
  pool: WorkerPool<ScriptRequest, ScriptResult>,
  limits: SandboxLimits,
  request: SandboxRunRequest,
): Promise<SandboxRunResult> {
  const timeoutMs = request.timeoutMs ?? limits.defaultTimeoutMs;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
  if (request.signal?.aborted) throw new ToolError("TOOL_TIMEOUT", "script was cancelled before it started");
  let inputsJson: string;
  let dataJson: string | undefined;
  try {
    inputsJson = JSON.stringify(request.inputs ?? {});
    dataJson = request.data === undefined ? undefined : JSON.stringify(request.data);
  } catch (error) {
    throw new ToolError("TOOL_FAILED", `inputs or data are not JSON: ${String(error)}`, { cause: error });
  }
  return pool.run({
    request: { code: request.code, inputsJson, dataJson, timeoutMs },
    limitMs: timeoutMs + HARD_STOP_GRACE_MS,
    timeoutMessage: scriptTimeoutMessage(timeoutMs),
    cancelMessage: "script was cancelled",
    signal: request.signal,
    key: request.key,
  });
}
