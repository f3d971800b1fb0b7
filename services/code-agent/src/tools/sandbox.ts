import { ToolError } from "@baton/tools";
import {
  newQuickJSWASMModule,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
} from "quickjs-emscripten";

/**
 * Largest accepted QuickJS stack limit in bytes (256 KiB). At 512 KiB and above, or 0 (unlimited), deep JS
 * recursion overflows the host's native stack before QuickJS notices.
 */
export const MAX_STACK_BYTES = 256 * 1024;

/** Defaults of {@link SandboxOptions}: 64 MiB heap, 256 KiB stack, 2,000 ms, 256 KiB result, 100 × 500-char logs. */
export const SANDBOX_DEFAULTS = {
  memoryLimitBytes: 64 * 1024 * 1024,
  maxStackBytes: MAX_STACK_BYTES,
  defaultTimeoutMs: 2_000,
  maxResultBytes: 256 * 1024,
  maxLogLines: 100,
  maxLogLineChars: 500,
} as const;

/** Limits of a {@link Sandbox}; every field is optional and falls back to {@link SANDBOX_DEFAULTS}. */
export interface SandboxOptions {
  /** QuickJS heap limit per call in bytes (includes the parsed `inputs` and `data`). Default 64 MiB. */
  readonly memoryLimitBytes?: number;
  /** QuickJS stack limit per call in bytes, 16 KiB..256 KiB. Default 256 KiB. */
  readonly maxStackBytes?: number;
  /** Wall-clock limit of a call in ms when the request gives none. Default 2,000. */
  readonly defaultTimeoutMs?: number;
  /** Largest result, as UTF-8 bytes of its JSON. Default 256 KiB. */
  readonly maxResultBytes?: number;
  /** Most `console.*` lines kept per call; the last kept line notes how many were dropped. Default 100. */
  readonly maxLogLines?: number;
  /** Longest kept log line in chars; longer lines end in "…". Default 500. */
  readonly maxLogLineChars?: number;
}

/** One script run. */
export interface SandboxRunRequest {
  /** A function body: `return` gives the result; `await` works on promises settled without I/O. */
  readonly code: string;
  /** Exposed as the deep-frozen global `inputs` (JSON round-tripped). Default `{}`. */
  readonly inputs?: unknown;
  /** Exposed as the deep-frozen global `data` (JSON round-tripped). Default `undefined`. */
  readonly data?: unknown;
  /** Wall-clock limit in ms; default {@link SandboxOptions.defaultTimeoutMs}. */
  readonly timeoutMs?: number;
  /**
   * Stops the script when aborted. Read by the interrupt handler; since the script runs synchronously on
   * this thread, an abort only lands if it happened before the call (or comes from another thread).
   */
  readonly signal?: AbortSignal;
}

/** What a successful run returns. */
export interface SandboxRunResult {
  /** The returned value after a JSON round trip; `null` when the script returned nothing. */
  readonly result: unknown;
  /** `console.log/info/warn/error/debug` lines, args joined by spaces, bounded by the log limits. */
  readonly logs: string[];
  /** Wall-clock time of the call in ms, including runtime setup. */
  readonly durationMs: number;
}

/** Runs untrusted JavaScript in a fresh QuickJS runtime per call. */
export interface Sandbox {
  /** The effective limits. */
  readonly limits: Readonly<Required<SandboxOptions>>;
  /**
   * Runs one script. @throws ToolError `TOOL_TIMEOUT` (time limit or abort); `TOOL_FAILED` for syntax
   * and runtime errors, memory or stack limit exceeded, a result that is not JSON or is too large.
   */
  run(request: SandboxRunRequest): Promise<SandboxRunResult>;
}

// One WASM module for the process (loading it costs ~5 ms); each call gets its own runtime and heap.
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

function checkLimit(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`sandbox ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/**
 * Loads the QuickJS WASM module (once per process) and returns a {@link Sandbox}.
 * @throws RangeError when a limit is out of range, notably `maxStackBytes` above {@link MAX_STACK_BYTES}
 *   (0, which QuickJS reads as "unlimited", is refused too).
 */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const d = SANDBOX_DEFAULTS;
  const limits: Required<SandboxOptions> = {
    memoryLimitBytes: options.memoryLimitBytes ?? d.memoryLimitBytes,
    maxStackBytes: options.maxStackBytes ?? d.maxStackBytes,
    defaultTimeoutMs: options.defaultTimeoutMs ?? d.defaultTimeoutMs,
    maxResultBytes: options.maxResultBytes ?? d.maxResultBytes,
    maxLogLines: options.maxLogLines ?? d.maxLogLines,
    maxLogLineChars: options.maxLogLineChars ?? d.maxLogLineChars,
  };
  checkLimit("memoryLimitBytes", limits.memoryLimitBytes, 1024 * 1024, 2 ** 31);
  checkLimit("maxStackBytes", limits.maxStackBytes, 16 * 1024, MAX_STACK_BYTES);
  checkLimit("defaultTimeoutMs", limits.defaultTimeoutMs, 1, 600_000);
  checkLimit("maxResultBytes", limits.maxResultBytes, 2, 2 ** 28);
  checkLimit("maxLogLines", limits.maxLogLines, 1, 100_000);
  checkLimit("maxLogLineChars", limits.maxLogLineChars, 1, 1_000_000);
  await loadModule(); // fail at startup, not on the first call
  return {
    limits: Object.freeze(limits),
    run: async (request) => runScript(await loadModule(), limits, request),
  };
}

interface Run {
  readonly limits: Required<SandboxOptions>;
  readonly code: string;
  readonly inputsJson: string;
  readonly dataJson: string | undefined;
  readonly timeoutMs: number;
  readonly logs: string[];
  droppedLogs: number;
  stopped: "timeout" | "cancelled" | undefined;
}

// Owns the runtime's lifecycle. QuickJS can be left inconsistent by an exception that unwinds through
// the WASM (V8's RangeError when a C-recursive built-in such as JSON.stringify exhausts the native
// stack, which QuickJS's own stack limit does not see) and by QuickJS's own leaks after some
// interrupts (JS_FreeRuntime then aborts). Either way the module is dropped and the next call
// loads a fresh one; the abandoned module's memory is garbage-collected.
function runScript(module: QuickJSWASMModule, limits: Required<SandboxOptions>, request: SandboxRunRequest): SandboxRunResult {
  const started = performance.now();
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
  const { code } = request;
  const run: Run = { limits, code, inputsJson, dataJson, timeoutMs, logs: [], droppedLogs: 0, stopped: undefined };
  const deadline = started + timeoutMs;
  const runtime = module.newRuntime();
  // Handles still alive when the context is disposed make QuickJS abort, so every handle is tracked.
  const handles: QuickJSHandle[] = [];
  let context: QuickJSContext | undefined;
  let poisoned = false;
  try {
    runtime.setMemoryLimit(limits.memoryLimitBytes);
    runtime.setMaxStackSize(limits.maxStackBytes);
    // The signal only lands if aborted before the call or from another thread: the script runs synchronously.
    runtime.setInterruptHandler(() => {
      if (request.signal?.aborted) run.stopped = "cancelled";
      else if (performance.now() > deadline) run.stopped = "timeout";
      return run.stopped !== undefined;
    });
    context = runtime.newContext();
    const result = execute(context, runtime, run, (h) => (handles.push(h), h));
    return { result, logs: run.logs, durationMs: performance.now() - started };
  } catch (error) {
    if (error instanceof ToolError) throw error;
    poisoned = true;
    const message = error instanceof Error ? error.message : String(error);
    throw new ToolError(
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

// The steps of one call inside a fresh context; returns the parsed result or throws a ToolError.
function execute(ctx: QuickJSContext, runtime: QuickJSRuntime, run: Run, keep: (h: QuickJSHandle) => QuickJSHandle): unknown {
  const { limits } = run;
  const fail = (phase: string, handle: QuickJSHandle): ToolError => {
    const error = keep(handle); // kept even when unread: a live handle at dispose time aborts QuickJS
    const info = run.stopped ? undefined : describe(ctx, keep, error);
    return toToolError(phase, info, run.stopped, limits, run.timeoutMs);
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
    throw new ToolError("TOOL_FAILED", "code must be a function body (it closed the wrapping function early)");
  }
  const promise = unwrap(ctx.callFunction(fn, ctx.undefined), "script");
  // No timers or I/O exist, so draining the job queue once settles every promise that can settle.
  const jobs = runtime.executePendingJobs(-1);
  if (jobs.error) throw fail("script", jobs.error);
  const state = ctx.getPromiseState(promise);
  if (state.type === "rejected") throw fail("script", state.error);
  if (run.stopped) throw toToolError("script", undefined, run.stopped, limits, run.timeoutMs);
  if (state.type === "pending") {
    throw new ToolError("TOOL_FAILED", "the script awaited a promise that never settles (there are no timers or I/O)");
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
    throw new ToolError("TOOL_FAILED", `result is ${atLeast}${bytes} bytes of JSON; the limit is ${limit}`);
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

// Maps a QuickJS failure to the ToolError the model sees: what happened, and where when known.
function toToolError(
  phase: string,
  info: ErrorInfo | undefined,
  stopped: "timeout" | "cancelled" | undefined,
  limits: Required<SandboxOptions>,
  timeoutMs: number,
): ToolError {
  if (stopped === "timeout") return new ToolError("TOOL_TIMEOUT", `script exceeded its ${timeoutMs} ms time limit`);
  if (stopped === "cancelled") return new ToolError("TOOL_TIMEOUT", "script was cancelled");
  const e = info ?? { name: "Error", message: "unknown failure", stack: "" };
  const where = /script\.js:(\d+)(?::(\d+))?/.exec(e.stack);
  const line = Number(where?.[1]);
  const column = Number(where?.[2]) - (line === 1 ? HEADER.length : 0);
  const at = where ? ` (line ${line}${column > 0 ? `, column ${column}` : ""})` : "";
  if (e.name === "InternalError" && e.message === "out of memory") {
    return new ToolError("TOOL_FAILED", `memory limit exceeded (${limits.memoryLimitBytes} bytes)${at}`);
  }
  if (e.name === "InternalError" && e.message === "stack overflow") {
    const stack = limits.maxStackBytes;
    return new ToolError("TOOL_FAILED", `stack limit exceeded (${stack} bytes): recursion too deep${at}`);
  }
  const prefix = { result: "result is not JSON-serializable: ", setup: "cannot load inputs: " }[phase] ?? "";
  return new ToolError("TOOL_FAILED", `${prefix}${e.name}: ${e.message}${at}`);
}
