import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { defineTool, type Tool, ToolError, type ToolErrorCode } from "@baton/tools";
import { all, create, type FactoryFunctionMap } from "mathjs";
import { z } from "zod";

/** Most elements a range/zeros/ones/identity/random/resize/matrixFromFunction call may create. */
export const MAX_MATRIX_ELEMENTS = 1_000_000;
/** Wall-clock limit of one expression in ms, enforced by killing the evaluator's child process. */
export const EXPRESSION_TIMEOUT_MS = 1_500;
/** Heap limit of the evaluator's child process in MB; exceeding it fails the call, not the agent. */
export const EXPRESSION_HEAP_MB = 128;

/** Input of `evaluate_expression`: a mathjs expression (1..2,000 chars) and optional variables. */
export const evaluateExpressionInput = z.object({
  expression: z.string().min(1).max(2_000).describe("A math.js expression, e.g. `sqrt(16) + 2^3` or `5 cm to inch`."),
  scope: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "variable names are identifiers"),
      z.union([z.number(), z.array(z.number()).max(100_000), z.string().max(10_000)]),
    )
    .optional()
    .describe("Variables usable in the expression: numbers, number arrays or strings."),
});

type Scope = NonNullable<z.output<typeof evaluateExpressionInput>["scope"]>;

/**
 * Output of `evaluate_expression`. `result` is a number, boolean, string or (nested) array; other values
 * (units, complex and big numbers, fractions, non-finite numbers) come as `math.format` strings.
 */
export interface EvaluateExpressionOutput {
  readonly expression: string;
  readonly result: unknown;
  /** mathjs type name of the value, e.g. "number", "Unit", "DenseMatrix", "Complex". */
  readonly resultType: string;
}

// Per the mathjs security docs: these change the instance or parse new expressions at run time.
const DISABLED = [
  "import",
  "createUnit",
  "reviver",
  "evaluate",
  "parse",
  "compile",
  "parser",
  "config",
  "resolve",
  "simplify",
  "simplifyConstant",
  "simplifyCore",
  "derivative",
  "rationalize",
  "symbolicEqual",
  "leafCount",
];

type Fn = ((...args: unknown[]) => unknown) & { transform?: Fn };

// Builds the restricted mathjs instance. Runs in the child process only: mathjs is synchronous, so a heavy
// expression (broadcasting `ones(3000,1) + ones(1,3000)` takes ~70 s) would block the agent's event loop,
// and a huge one (a 40-way concat of 1000x1000 matrices) would crash it out of memory.
function createRestrictedEvaluator(): (expression: string, scope: Scope) => EvaluateExpressionOutput {
  // mathjs types `all` as possibly undefined (a Record destructuring); it is always present.
  const math = create(all as FactoryFunctionMap);
  const evaluate = math.evaluate.bind(math); // captured before `evaluate` is disabled for expressions

  const num = (v: unknown): number => (math.isUnit(v) ? v.value : Number(v));
  const dims = (v: unknown): number[] => {
    const list: unknown = math.isMatrix(v) ? v.toArray() : v;
    return Array.isArray(list) ? (list as unknown[]).flat(Infinity).map(num) : [num(list)];
  };
  const product = (xs: number[]): number => xs.reduce((a, b) => a * Math.abs(b), 1);
  const sizes = (a: unknown[]): number[] => a.filter((x) => typeof x !== "string").flatMap(dims); // drop format args
  const sizeArg = (v: unknown): number => (Array.isArray(v) || math.isMatrix(v) ? product(dims(v)) : 1);
  const rangeCount = (a: unknown[]): number => {
    // The string form is "start:end" or "start:step:end"; the call form is (start, end, step | includeEnd).
    const p = typeof a[0] === "string" ? a[0].split(":").map(Number) : [];
    const [start, end, step] =
      p.length > 0
        ? [p[0], p.length === 3 ? p[2] : p[1], p.length === 3 ? p[1] : 1]
        : [num(a[0]), num(a[1]), typeof a[2] === "boolean" || a[2] === undefined ? 1 : num(a[2])];
    const n = Math.abs((Number(end) - Number(start)) / Number(step));
    return Number.isNaN(n) ? 0 : n; // NaN: let range itself reject the arguments
  };
  // Functions that materialize arrays from a size, each mapping its arguments to an element count:
  // a fast, clear error instead of the evaluator running out of memory or time.
  const sized: Record<string, (args: unknown[]) => number> = {
    range: rangeCount,
    zeros: (a) => product(sizes(a)),
    ones: (a) => product(sizes(a)),
    identity: (a) => ((d) => product(d.length === 1 ? [d[0] ?? 0, d[0] ?? 0] : d))(sizes(a)),
    random: (a) => sizeArg(a[0]),
    randomInt: (a) => sizeArg(a[0]),
    resize: (a) => sizeArg(a[1]),
    matrixFromFunction: (a) => sizeArg(a[0]),
  };
  const guard =
    (name: string, original: Fn, count: (args: unknown[]) => number): Fn =>
    (...args) => {
      const n = count(args);
      if (!(n <= MAX_MATRIX_ELEMENTS)) throw new Error(`${name} would create ${n} elements; the limit is ${MAX_MATRIX_ELEMENTS}`);
      return original(...args);
    };
  const lookup = (table: object, name: string) => (table as Record<string, Fn | undefined>)[name];

  const overrides: Record<string, Fn> = {};
  for (const name of DISABLED) {
    overrides[name] = () => {
      throw new Error(`function ${name} is disabled`);
    };
  }
  for (const [name, count] of Object.entries(sized)) {
    const original = lookup(math, name);
    if (!original) continue;
    const wrapped = guard(name, original, count);
    // Expressions call the transform when there is one (range's includes its end): guard both.
    const transform = lookup(Reflect.get(math.expression, "transform") as object, name);
    if (transform) wrapped.transform = guard(name, transform, count);
    overrides[name] = wrapped;
  }
  math.import(overrides, { override: true });

  const toJson = (value: unknown): unknown => {
    if (typeof value === "number") return Number.isFinite(value) ? value : math.format(value);
    if (typeof value === "boolean" || typeof value === "string") return value;
    if (value === undefined || value === null) return null;
    if (math.isMatrix(value)) return toJson(value.toArray());
    if (Array.isArray(value)) return value.map(toJson);
    return math.format(value);
  };
  return (expression, scope) => {
    // A Map scope keeps assignments inside the call; a multi-statement expression gives a ResultSet.
    let value: unknown = evaluate(expression, new Map(Object.entries(scope)));
    if (math.typeOf(value) === "ResultSet") value = (value as { entries: unknown[] }).entries.at(-1);
    return { expression, result: toJson(value), resultType: math.typeOf(value) };
  };
}

interface Request {
  readonly id: number;
  readonly expression: string;
  readonly scope: Scope;
}
type Reply =
  | { readonly id: number; readonly ok: true; readonly output: EvaluateExpressionOutput }
  | { readonly id: number; readonly ok: false; readonly code: ToolErrorCode; readonly message: string; retryable?: boolean };

const ROLE = "--baton-evaluate-expression";

// Child side: this same module, forked with ROLE as its argument.
if (process.argv[2] === ROLE && process.send) {
  const send = process.send.bind(process);
  const evaluateRestricted = createRestrictedEvaluator();
  process.on("message", ({ id, expression, scope }: Request) => {
    try {
      send({ id, ok: true, output: evaluateRestricted(expression, scope) } satisfies Reply);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      send({ id, ok: false, code: "TOOL_FAILED", message } satisfies Reply);
    }
  });
  process.on("disconnect", () => process.exit(0)); // the agent is gone
  send("ready");
}

// Parent side: one child process per tool, started on creation, replaced after a timeout or a crash.
// A process, not a worker thread: a worker reaching its heap limit can abort the whole process
// (nodejs/node#47224, reproduced here with a 40-way concat), and a busy worker can only be stopped
// by terminating it anyway.
class Evaluator {
  #child: ChildProcess | undefined;
  #ready: Promise<void> = Promise.resolve();
  readonly #pending = new Map<number, (reply: Reply) => void>();
  #nextId = 0;
  #active = 0;

  start(): void {
    if (this.#child) return;
    const child = fork(fileURLToPath(import.meta.url), [ROLE], {
      // Inherited flags minus --inspect (the port is taken), plus the heap limit.
      execArgv: [...process.execArgv.filter((a) => !a.startsWith("--inspect")), `--max-old-space-size=${EXPRESSION_HEAP_MB}`],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.#child = child;
    this.#ready = new Promise((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", () => reject(new ToolError("TOOL_FAILED", "the expression evaluator failed to start")));
    });
    this.#ready.catch(() => {}); // observed in evaluate(); avoids an unhandled rejection when idle
    child.on("message", (reply: Reply | "ready") => {
      if (reply !== "ready") this.#pending.get(reply.id)?.(reply);
    });
    child.on("error", (error) => this.#stop(child, "TOOL_FAILED", `the expression evaluator failed: ${error.message}`, true));
    child.on("exit", (code, signal) => {
      // V8 aborts (SIGABRT, or exit code 134) when the heap limit is reached.
      const oom = signal === "SIGABRT" || code === 134;
      const message = oom ? `expression exceeded the ${EXPRESSION_HEAP_MB} MB memory limit` : "the expression evaluator stopped";
      this.#stop(child, "TOOL_FAILED", message, !oom);
    });
    this.#hold(child, false); // an idle evaluator must not keep the agent's process alive
  }

  async evaluate(expression: string, scope: Scope, signal: AbortSignal): Promise<EvaluateExpressionOutput> {
    this.start();
    const child = this.#child;
    if (!child) throw new ToolError("TOOL_FAILED", "the expression evaluator stopped", { retryable: true });
    this.#active++;
    this.#hold(child, true);
    try {
      await this.#ready; // the time limit starts once mathjs is loaded (~300 ms after start)
      return await this.#call(child, expression, scope, signal);
    } finally {
      if (--this.#active === 0 && this.#child) this.#hold(this.#child, false);
    }
  }

  // Referenced (process and IPC channel) only while calls are in flight.
  #hold(child: ChildProcess, on: boolean): void {
    if (on) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }

  async #call(child: ChildProcess, expression: string, scope: Scope, signal: AbortSignal): Promise<EvaluateExpressionOutput> {
    if (this.#child !== child) {
      throw new ToolError("TOOL_FAILED", "the expression evaluator restarted; retry", { retryable: true });
    }
    const id = this.#nextId++;
    const reply = await new Promise<Reply>((resolve) => {
      // Stops the child and settles this call (directly, in case the child was already replaced).
      const expire = (message: string) => {
        this.#stop(child, "TOOL_TIMEOUT", message, false, id);
        this.#pending.get(id)?.({ id, ok: false, code: "TOOL_TIMEOUT", message });
      };
      const timer = setTimeout(() => expire(`expression exceeded its ${EXPRESSION_TIMEOUT_MS} ms time limit`), EXPRESSION_TIMEOUT_MS);
      const onAbort = () => expire("expression was cancelled");
      signal.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, (r) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
        resolve(r);
      });
      if (signal.aborted) onAbort();
      else child.send({ id, expression, scope } satisfies Request);
    });
    if (reply.ok) return reply.output;
    throw new ToolError(reply.code, reply.message, { retryable: reply.retryable ?? false });
  }

  // Killing the child is the only way to stop a running expression; other calls in flight on it
  // fail as retryable. `culprit` is the call that caused the stop and gets the given code and message.
  #stop(child: ChildProcess, code: ToolErrorCode, message: string, retryable = false, culprit?: number): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    for (const [id, settle] of [...this.#pending]) {
      const own = culprit === undefined || id === culprit;
      const why = own ? message : "interrupted because another expression was stopped; retry";
      settle({ id, ok: false, code: own ? code : "TOOL_FAILED", message: why, retryable: own ? retryable : true });
    }
  }
}

/**
 * Creates the `evaluate_expression` tool: a restricted mathjs instance in a child process (forked here,
 * ~300 ms to load; {@link EXPRESSION_HEAP_MB} MB heap). Risk tier "compute", idempotent, 10,000 ms tool timeout (a backstop).
 * A multi-statement expression returns its last value.
 * @throws ToolError `TOOL_FAILED` with mathjs's message (parse errors, unknown symbols, disabled functions such as
 *   import/evaluate/createUnit, arrays above {@link MAX_MATRIX_ELEMENTS}) or when the evaluator runs out of memory;
 *   `TOOL_TIMEOUT` after {@link EXPRESSION_TIMEOUT_MS} ms or when the call's signal aborts.
 */
export function createEvaluateExpressionTool(): Tool<typeof evaluateExpressionInput, EvaluateExpressionOutput> {
  const evaluator = new Evaluator();
  evaluator.start();
  return defineTool({
    name: "evaluate_expression",
    description:
      "Evaluates a math.js expression exactly and returns the value: arithmetic, functions (sqrt, log, sin, mean, " +
      "median, std, sum, ...), matrices `[1,2;3,4]`, ranges `1:10`, units and conversions (`5 cm to inch`), " +
      "complex numbers. `scope` supplies variables. Statements separated by `;` return the last value. " +
      `Limits: ${EXPRESSION_TIMEOUT_MS} ms, arrays of ${MAX_MATRIX_ELEMENTS} elements. ` +
      "Use it instead of doing arithmetic in your head.",
    input: evaluateExpressionInput,
    // A backstop only: the expression's own limit (EXPRESSION_TIMEOUT_MS) starts once the evaluator
    // process is ready, and restarting it after a crash can take seconds on a loaded machine.
    timeoutMs: 10_000,
    riskTier: "compute",
    idempotent: true,
    execute: ({ expression, scope }, ctx) => evaluator.evaluate(expression, scope ?? {}, ctx.signal),
  });
}
