/**
 * Runs scripts in QuickJS on the calling thread: what a sandbox thread (sandbox-thread.ts) does with each
 * request. A script can block this thread past its limit (QuickJS's interrupt handler is not reached
 * inside a long built-in, e.g. `String(7n ** 1000000n)`), hence never call it on a service's main thread.
 * Imports QuickJS and nothing else (a thread starts in ~40 ms); failures are {@link ScriptFailure}s,
 * turned into ToolErrors by the host.
 */
import {
  newQuickJSWASMModule,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten";
import { type SandboxLimits, scriptTimeoutMessage } from "./sandbox-limits.ts";

/** One script, its inputs already serialized by the host. */
export interface ScriptRequest {
  /** A function body: `return` gives the result; `await` works on promises settled without I/O. */
  readonly code: string;
  /** JSON of the global `inputs`. */
  readonly inputsJson: string;
  /** JSON of the global `data`; undefined leaves `data` undefined. */
  readonly dataJson?: string | undefined;
  /** Wall-clock limit in ms, enforced by QuickJS's interrupt handler. */
  readonly timeoutMs: number;
}

/** What a successful run returns. */
export interface ScriptResult {
  /** The returned value after a JSON round trip; `null` when the script returned nothing. */
  readonly result: unknown;
  /** `console.log/info/warn/error/debug` lines, args joined by spaces, bounded by the log limits. */
  readonly logs: string[];
  /** Wall-clock time of the run in ms, including runtime setup. */
  readonly durationMs: number;
}

/** A script's expected failure, with the code of the ToolError the host makes of it. */
export class ScriptFailure extends Error {
  override readonly name = "ScriptFailure";
  readonly code: "TOOL_FAILED" | "TOOL_TIMEOUT";
  constructor(code: "TOOL_FAILED" | "TOOL_TIMEOUT", message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Loads the QuickJS WASM module (once per thread) and returns a function that runs one script in a fresh
 * runtime under `limits`.
 * @throws ScriptFailure `TOOL_TIMEOUT` past the time limit; `TOOL_FAILED` for syntax and runtime errors, memory or
 *   stack limit exceeded, a result that is not JSON or is too large.
 */
export async function createScriptRunner(limits: SandboxLimits): Promise<(request: ScriptRequest) => Promise<ScriptResult>> {
  await loadModule(); // fail at start, not on the first call
  return async (request) => runScript(await loadModule(), limits, request);
}

// One WASM module per thread (loading it costs ~5 ms); each call gets its own runtime and heap.
// A module is replaced after a failure that may have left its memory inconsistent (see runScript).
let modulePromise: Promise<QuickJSWASMModule> | undefined;
let currentModule: QuickJSWASMModule | undefined;
function loadModule(): Promise<QuickJSWASMModule> {
  modulePromise ??= newQuickJSWASMModule().then(
    (module) => (currentModule = module),
    (error: unknown) => {
      modulePromise = undefined;
      throw error;
    },
  );
  return modulePromise;
}
function discardModule(module: QuickJSWASMModule): void {
  if (currentModule !== module) return;
  currentModule = undefined;
  modulePromise = undefined;
}

// Sets up the globals. Lives inside the sandbox so formatting and freezing cost the script's own budget.
const SETUP = `(function (hostLog, inputsJson, dataJson, maxChars) {
  "use strict";
  const freeze = (v) => {
    if (v !== null && typeof v === "object") { for (const k of Object.keys(v)) freeze(v[k]); Object.freeze(v); }
    return v;
  };
  const show = (v) => {
    try { if (typeof v === "string") return v; const s = JSON.stringify(v); return s === undefined ? String(v) : s; }
    catch { try { return String(v); } catch { return "[unprintable]"; } }
  };
  // Cut before crossing to the host so a huge line is never copied out of the sandbox.
  const log = (...args) => { hostLog(args.map(show).join(" ").slice(0, maxChars + 1)); };
  const define = (name, value) =>
    Object.defineProperty(globalThis, name, { value, writable: false, enumerable: false, configurable: false });
  define("inputs", freeze(JSON.parse(inputsJson)));
  define("data", dataJson === undefined ? undefined : freeze(JSON.parse(dataJson)));
  define("console", Object.freeze({ log, info: log, warn: log, error: log, debug: log }));
})`;

// Serializes the result inside the sandbox; returns the JSON length instead of the JSON when too long.
const SERIALIZE = `(function (value, maxLength) {
  "use strict";
  if (typeof value === "function" || typeof value === "symbol")
    throw new TypeError("the script returned a " + typeof value + "; return a JSON value");
  const json = JSON.stringify(value === undefined ? null : value) ?? "null";
  return json.length > maxLength ? json.length : json;
})`;

// Describes a thrown value as bounded JSON; user getters run here, still under the interrupt handler.
const DESCRIBE = `(function (e) {
  "use strict";
  const cut = (s, n) => { try { return String(s).slice(0, n); } catch { return "?"; } };
  try {
    if (e !== null && typeof e === "object" && "message" in e)
      return JSON.stringify({
        name: cut(e.name ?? "Error", 100), message: cut(e.message, 1000), stack: cut(e.stack ?? "", 4000),
      });
    return JSON.stringify({ name: "thrown value", message: cut(e, 1000), stack: "" });
  } catch { return JSON.stringify({ name: "Error", message: "(unprintable thrown value)", stack: "" }); }
})`;

interface ErrorInfo {
  name: string;
  message: string;
  stack: string;
}

const FILENAME = "script.js";
// The user's code starts on line 1 right after this header, so only line-1 columns need shifting.
const HEADER = `(async function () {"use strict";`;

interface Run {
  readonly limits: SandboxLimits;
  readonly code: string;
  readonly inputsJson: string;
  readonly dataJson: string | undefined;
  readonly timeoutMs: number;
  readonly logs: string[];
  droppedLogs: number;
  stopped: boolean;
}

// Owns the runtime's lifecycle. QuickJS can be left inconsistent by an exception that unwinds through
// the WASM (V8's RangeError when a C-recursive built-in such as JSON.stringify exhausts the native
// stack, which QuickJS's own stack limit does not see) and by QuickJS's own leaks after some
// interrupts (JS_FreeRuntime then aborts). Either way the module is dropped and the next call
// loads a fresh one; the abandoned module's memory is garbage-collected.
function runScript(module: QuickJSWASMModule, limits: SandboxLimits, request: ScriptRequest): ScriptResult {
  const started = performance.now();
  const { code, inputsJson, dataJson, timeoutMs } = request;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
  const run: Run = { limits, code, inputsJson, dataJson, timeoutMs, logs: [], droppedLogs: 0, stopped: false };
  const deadline = started + timeoutMs;
  const runtime = module.newRuntime();
  // Handles still alive when the context is disposed make QuickJS abort, so every handle is tracked.
  const handles: QuickJSHandle[] = [];
  let context: QuickJSContext | undefined;
  let poisoned = false;
  try {
    runtime.setMemoryLimit(limits.memoryLimitBytes);
    runtime.setMaxStackSize(limits.maxStackBytes);
    // Called by QuickJS between bytecodes; long built-ins (BigInt, regexp) never reach it, which is
    // why the host also stops the whole thread shortly after the limit.
    runtime.setInterruptHandler(() => {
      if (performance.now() > deadline) run.stopped = true;
      return run.stopped;
    });
    context = runtime.newContext();
    const result = execute(context, runtime, run, (h) => (handles.push(h), h));
    return { result, logs: run.logs, durationMs: performance.now() - started };
  } catch (error) {
    if (error instanceof ScriptFailure) throw error;
    poisoned = true;
    const message = error instanceof Error ? error.message : String(error);
    throw new ScriptFailure(
      "TOOL_FAILED",
      error instanceof RangeError && /call stack/i.test(message)
        ? "stack limit exceeded: a built-in recursed too deeply (e.g. JSON.stringify of a deeply nested value)"
        : `sandbox failed: ${message}`,
      { cause: error },
    );
  } finally {
    if (!poisoned) {
      try {
        for (const h of handles.reverse()) if (h.alive) h.dispose();
        context?.dispose();
        runtime.dispose();
      } catch {
        poisoned = true; // a QuickJS leak assertion: the call's outcome stands, the module does not
      }
    }
    if (poisoned) discardModule(module);
  }
}

// The steps of one call inside a fresh context; returns the parsed result or throws a ScriptFailure.
function execute(ctx: QuickJSContext, runtime: QuickJSRuntime, run: Run, keep: (h: QuickJSHandle) => QuickJSHandle): unknown {
  const { limits } = run;
  const fail = (phase: string, handle: QuickJSHandle): ScriptFailure => {
    const error = keep(handle); // kept even when unread: a live handle at dispose time aborts QuickJS
    const info = run.stopped ? undefined : describe(ctx, keep, error);
    return toFailure(phase, info, run.stopped, limits, run.timeoutMs);
  };
  const unwrap = (result: ReturnType<QuickJSContext["evalCode"]>, phase: string): QuickJSHandle => {
    if (result.error) throw fail(phase, result.error);
    return keep(result.value);
  };
  const hostLog = keep(
    ctx.newFunction("log", (line) => {
      if (run.logs.length < limits.maxLogLines) {
        const text = ctx.getString(line);
        run.logs.push(text.length > limits.maxLogLineChars ? `${text.slice(0, limits.maxLogLineChars)}…` : text);
      } else run.droppedLogs++;
    }),
  );
  const setup = unwrap(ctx.evalCode(SETUP, "setup.js", { type: "global", strict: true }), "setup");
  const data = run.dataJson === undefined ? ctx.undefined : keep(ctx.newString(run.dataJson));
  const args = [hostLog, keep(ctx.newString(run.inputsJson)), data, keep(ctx.newNumber(limits.maxLogLineChars))];
  unwrap(ctx.callFunction(setup, ctx.undefined, ...args), "setup");

  // Same line as the header so error line numbers match the user's code; async so `await` works.
  const source = `${HEADER}${run.code}\n})`;
  const fn = unwrap(ctx.evalCode(source, FILENAME, { type: "global", strict: true }), "script");
  if (ctx.typeof(fn) !== "function") {
    throw new ScriptFailure("TOOL_FAILED", "code must be a function body (it closed the wrapping function early)");
  }
  const promise = unwrap(ctx.callFunction(fn, ctx.undefined), "script");
  // No timers or I/O exist, so draining the job queue once settles every promise that can settle.
  const jobs = runtime.executePendingJobs(-1);
  if (jobs.error) throw fail("script", jobs.error);
  const state = ctx.getPromiseState(promise);
  if (state.type === "rejected") throw fail("script", state.error);
  if (run.stopped) throw toFailure("script", undefined, run.stopped, limits, run.timeoutMs);
  if (state.type === "pending") {
    throw new ScriptFailure("TOOL_FAILED", "the script awaited a promise that never settles (there are no timers or I/O)");
  }
  const value = state.notAPromise ? state.value : keep(state.value);

  const serialize = unwrap(ctx.evalCode(SERIALIZE, "serialize.js", { type: "global", strict: true }), "serialize");
  const max = keep(ctx.newNumber(limits.maxResultBytes));
  const json = unwrap(ctx.callFunction(serialize, ctx.undefined, value, max), "result");
  const size = ctx.typeof(json) === "number" ? ctx.getNumber(json) : undefined;
  const text = size === undefined ? ctx.getString(json) : "";
  const bytes = size ?? Buffer.byteLength(text);
  if (bytes > limits.maxResultBytes) {
    const atLeast = size === undefined ? "" : "at least ";
    const limit = limits.maxResultBytes;
    throw new ScriptFailure("TOOL_FAILED", `result is ${atLeast}${bytes} bytes of JSON; the limit is ${limit}`);
  }
  if (run.droppedLogs > 0) {
    run.logs[run.logs.length - 1] = `… ${run.droppedLogs + 1} more log lines dropped (limit ${limits.maxLogLines})`;
  }
  return JSON.parse(text) as unknown;
}

// Reads a thrown value through DESCRIBE; when the sandbox cannot run it (heap full), guesses from its type.
function describe(ctx: QuickJSContext, keep: (h: QuickJSHandle) => QuickJSHandle, error: QuickJSHandle): ErrorInfo {
  const fn = ctx.evalCode(DESCRIBE, "describe.js", { type: "global", strict: true });
  if (!fn.error) {
    const out = ctx.callFunction(keep(fn.value), ctx.undefined, error);
    if (!out.error) return JSON.parse(ctx.getString(keep(out.value))) as ErrorInfo;
    keep(out.error);
  } else keep(fn.error);
  // Only primitives are dumped: dumping objects would copy unbounded data to the host.
  const kind = ctx.typeof(error);
  if (kind !== "object") return { name: "thrown value", message: String(ctx.dump(error)).slice(0, 1000), stack: "" };
  return { name: "InternalError", message: "out of memory", stack: "" };
}

// Maps a QuickJS failure to the error the model sees: what happened, and where when known.
function toFailure(phase: string, info: ErrorInfo | undefined, stopped: boolean, limits: SandboxLimits, timeoutMs: number): ScriptFailure {
  if (stopped) return new ScriptFailure("TOOL_TIMEOUT", scriptTimeoutMessage(timeoutMs));
  const e = info ?? { name: "Error", message: "unknown failure", stack: "" };
  const where = /script\.js:(\d+)(?::(\d+))?/.exec(e.stack);
  const line = Number(where?.[1]);
  const column = Number(where?.[2]) - (line === 1 ? HEADER.length : 0);
  const at = where ? ` (line ${line}${column > 0 ? `, column ${column}` : ""})` : "";
  if (e.name === "InternalError" && e.message === "out of memory") {
    return new ScriptFailure("TOOL_FAILED", `memory limit exceeded (${limits.memoryLimitBytes} bytes)${at}`);
  }
  if (e.name === "InternalError" && e.message === "stack overflow") {
    const stack = limits.maxStackBytes;
    return new ScriptFailure("TOOL_FAILED", `stack limit exceeded (${stack} bytes): recursion too deep${at}`);
  }
  const prefix = { result: "result is not JSON-serializable: ", setup: "cannot load inputs: " }[phase] ?? "";
  return new ScriptFailure("TOOL_FAILED", `${prefix}${e.name}: ${e.message}${at}`);
}
