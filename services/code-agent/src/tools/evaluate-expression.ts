import { defineTool, type Tool, ToolError } from "@baton/tools";
import { all, create, type FactoryFunctionMap, type MathNode } from "mathjs";
import { z } from "zod";

/** Most elements a range/zeros/ones/identity/random/resize/matrixFromFunction call may create. */
export const MAX_MATRIX_ELEMENTS = 1_000_000;

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

/** Output of `evaluate_expression`: `result` is a number, boolean, string or array; other values (units, complex, big numbers) come as math.format strings. */
export interface EvaluateExpressionOutput {
  readonly expression: string;
  readonly result: unknown;
  /** mathjs type name of the value, e.g. "number", "Unit", "DenseMatrix", "Complex". */
  readonly resultType: string;
}

// Per the mathjs security docs: these change the instance or parse new expressions at run time.
const DISABLED = [
  "import", "createUnit", "reviver", "evaluate", "parse", "compile", "parser", "config", "resolve",
  "simplify", "simplifyConstant", "simplifyCore", "derivative", "rationalize", "symbolicEqual", "leafCount",
];

// mathjs types `all` as possibly undefined (a Record destructuring); it is always present.
const math = create(all as FactoryFunctionMap);
// Captured before the overrides: the tool itself may parse and evaluate, expressions may not.
const { evaluate, parse } = math;

const num = (v: unknown): number => (math.isUnit(v) ? Number(v.value) : Number(v));
const dims = (v: unknown): number[] => {
  const list: unknown = math.isMatrix(v) ? v.toArray() : v;
  return Array.isArray(list) ? (list as unknown[]).flat(Infinity).map(num) : [num(list)];
};
const product = (xs: number[]): number => xs.reduce((a, b) => a * Math.abs(b), 1);
const isSize = (v: unknown): boolean => Array.isArray(v) || math.isMatrix(v);

function rangeCount(args: unknown[]): number {
  // The string form is "start:end" or "start:step:end"; the call form is (start, end, step?).
  const [start, end, step] =
    typeof args[0] === "string"
      ? ((p) => (p.length === 3 ? [p[0], p[2], p[1]] : [p[0], p[1], 1]))(args[0].split(":").map(Number))
      : [num(args[0]), num(args[1]), typeof args[2] === "boolean" || args[2] === undefined ? 1 : num(args[2])];
  const n = Math.abs((Number(end) - Number(start)) / Number(step));
  return Number.isNaN(n) ? 0 : n; // NaN: let range itself reject the arguments
}

// Functions that materialize arrays from a size, each mapping its arguments to the element count.
const notFormat = (a: unknown[]): unknown[] => a.filter((x) => typeof x !== "string");
const sized: Record<string, (args: unknown[]) => number> = {
  range: rangeCount,
  zeros: (a) => product(notFormat(a).flatMap(dims)),
  ones: (a) => product(notFormat(a).flatMap(dims)),
  identity: (a) => ((d) => product(d.length === 1 ? [d[0] ?? 0, d[0] ?? 0] : d))(notFormat(a).flatMap(dims)),
  random: (a) => (isSize(a[0]) ? product(dims(a[0])) : 1),
  randomInt: (a) => (isSize(a[0]) ? product(dims(a[0])) : 1),
  resize: (a) => product(dims(a[1])),
  matrixFromFunction: (a) => product(dims(a[0])),
};

type Fn = ((...args: unknown[]) => unknown) & { transform?: Fn };
const guard = (name: string, original: Fn, count: (args: unknown[]) => number): Fn => (...args) => {
  const n = count(args);
  if (!(n <= MAX_MATRIX_ELEMENTS)) throw new Error(`${name} would create ${n} elements; the limit is ${MAX_MATRIX_ELEMENTS}`);
  return original(...args);
};

const overrides: Record<string, Fn> = {};
for (const name of DISABLED) {
  overrides[name] = () => {
    throw new Error(`function ${name} is disabled`);
  };
}
const lookup = (table: object, name: string): Fn | undefined => (table as Record<string, Fn | undefined>)[name];
for (const [name, count] of Object.entries(sized)) {
  const original = lookup(math, name);
  if (!original) continue;
  const wrapped = guard(name, original, count);
  // Expressions call the transform when there is one (e.g. range's includes its end); guard both.
  const transform = lookup(math.expression.transform, name);
  if (transform) wrapped.transform = guard(name, transform, count);
  overrides[name] = wrapped;
}
math.import(overrides, { override: true });

// User-defined functions allow recursion, which can block the (synchronous) evaluator for hours.
function refuseFunctionDefinitions(node: MathNode): void {
  node.traverse((n) => {
    if (n.type === "FunctionAssignmentNode") throw new Error("defining functions is not supported");
  });
}

function toJson(value: unknown): unknown {
  if (typeof value === "number") return Number.isFinite(value) ? value : math.format(value);
  if (typeof value === "boolean" || typeof value === "string") return value;
  if (value === undefined || value === null) return null;
  if (math.isMatrix(value)) return toJson(value.toArray());
  if (Array.isArray(value)) return value.map(toJson);
  return math.format(value);
}

/**
 * Creates the `evaluate_expression` tool (mathjs, restricted instance): risk tier "compute", idempotent,
 * 2,000 ms timeout. A multi-statement expression returns its last value.
 * @throws ToolError `TOOL_FAILED` with mathjs's message for parse errors, unknown symbols, disabled functions
 *   (import, evaluate, createUnit, ...), function definitions and arrays above {@link MAX_MATRIX_ELEMENTS}.
 */
export function createEvaluateExpressionTool(): Tool<typeof evaluateExpressionInput, EvaluateExpressionOutput> {
  return defineTool({
    name: "evaluate_expression",
    description:
      "Evaluates a math.js expression exactly and returns the value: arithmetic, functions (sqrt, log, sin, mean, " +
      "median, std, sum, ...), matrices `[1,2;3,4]`, ranges `1:10`, units and conversions (`5 cm to inch`), " +
      "complex numbers. `scope` supplies variables. Statements separated by `;` return the last value. " +
      "Defining functions is not supported. Use it instead of doing arithmetic in your head.",
    input: evaluateExpressionInput,
    timeoutMs: 2_000,
    riskTier: "compute",
    idempotent: true,
    execute: async ({ expression, scope }) => {
      try {
        refuseFunctionDefinitions(parse(expression));
        let value: unknown = evaluate(expression, new Map(Object.entries(scope ?? {})));
        // A multi-statement expression gives a ResultSet; the last visible value is the answer.
        if (math.typeOf(value) === "ResultSet") value = (value as { entries: unknown[] }).entries.at(-1);
        return { expression, result: toJson(value), resultType: math.typeOf(value) };
      } catch (error) {
        throw new ToolError("TOOL_FAILED", error instanceof Error ? error.message : String(error), { cause: error });
      }
    },
  });
}
