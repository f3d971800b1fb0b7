/**
 * What the agent and its expression evaluator processes share: the request and output shapes and the array
 * cap. No imports, so the agent's own process never loads mathjs.
 */

/** Most elements a range/zeros/ones/identity/random/resize/matrixFromFunction call may create. */
export const MAX_MATRIX_ELEMENTS = 1_000_000;

/** Variables of an expression: numbers, number arrays or strings, by identifier. */
export type ExpressionScope = Readonly<Record<string, number | number[] | string>>;

/** One expression for an evaluator process. */
export interface ExpressionRequest {
  readonly expression: string;
  readonly scope: ExpressionScope;
}

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
