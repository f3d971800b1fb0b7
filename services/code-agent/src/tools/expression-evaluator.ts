/**
 * The restricted mathjs evaluator behind `evaluate_expression`. Runs only in the evaluator's child processes
 * (expression-process.ts): mathjs is synchronous, so a heavy expression (broadcasting
 * `ones(3000,1) + ones(1,3000)` takes ~70 s) would block the agent's event loop, and a huge one (a 40-way
 * concat of 1000x1000 matrices) would crash it out of memory. Imports mathjs and nothing else.
 */
import { all, create, type FactoryFunctionMap } from "mathjs";
import { type EvaluateExpressionOutput, type ExpressionScope, MAX_MATRIX_ELEMENTS } from "./expression-shared.ts";

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

/**
 * Builds the restricted mathjs instance (functions that change it or parse at run time disabled, array
 * sizes capped) and returns its evaluator; a multi-statement expression gives its last value.
 * @throws (the evaluator) mathjs's errors, and Error for disabled functions and oversized arrays.
 */
export function createRestrictedEvaluator(): (expression: string, scope: ExpressionScope) => EvaluateExpressionOutput {
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
