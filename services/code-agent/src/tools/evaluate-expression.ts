import { defineTool, type Tool, ToolError } from "@baton/tools";
import { z } from "zod";
import { type EvaluateExpressionOutput, type ExpressionRequest, MAX_MATRIX_ELEMENTS } from "./expression-shared.ts";
import { processWorkers } from "./pool-process.ts";
import { WorkerPool } from "./worker-pool.ts";

export { type EvaluateExpressionOutput, type ExpressionScope, MAX_MATRIX_ELEMENTS } from "./expression-shared.ts";

/** Wall-clock limit of one expression in ms, enforced by killing its evaluator process. */
export const EXPRESSION_TIMEOUT_MS = 1_500;
/** Heap limit of an evaluator process in MB; exceeding it fails the call, not the agent. */
export const EXPRESSION_HEAP_MB = 128;
/** An evaluator process beyond the first, idle this long (ms), is stopped: 60,000. */
export const EXPRESSION_IDLE_STOP_MS = 60_000;
/**
 * A call waiting this long (ms) for a busy evaluator starts another one: 100. Expressions mostly take well under
 * a millisecond, so they queue rather than pay for a start (~300-600 ms, loading mathjs); one stuck behind an
 * expression that runs to its limit gets a process of its own.
 */
export const EXPRESSION_GROW_AFTER_MS = 100;

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

/** One expression to evaluate. */
export interface EvaluateRequest extends ExpressionRequest {
  /** Aborting kills the process evaluating it (then replaced). */
  readonly signal?: AbortSignal;
  /** Requests with the same key (the tool uses task and step) run one at a time. Default: none. */
  readonly key?: string;
}

/** Restricted mathjs in a pool of child processes. */
export interface ExpressionEvaluator {
  /** Most evaluator processes at once. */
  readonly processes: number;
  /**
   * Evaluates one expression in a free evaluator process.
   * @throws ToolError `TOOL_FAILED` with mathjs's message or when the process runs out of memory;
   *   `TOOL_TIMEOUT` after {@link EXPRESSION_TIMEOUT_MS} or when cancelled (the process is killed and replaced).
   */
  evaluate(request: EvaluateRequest): Promise<EvaluateExpressionOutput>;
  /** Stops the processes; calls in flight and later fail with `TOOL_FAILED`. */
  close(): void;
}

/**
 * Starts the expression evaluator: one child process at once (ready when this resolves, mathjs loaded:
 * ~300-600 ms), more up to `processes` (each ~120 MB once mathjs is loaded) for calls that waited
 * {@link EXPRESSION_GROW_AFTER_MS} for a busy one, those beyond the first stopped after
 * {@link EXPRESSION_IDLE_STOP_MS} idle. Processes, not threads: a thread reaching its V8 heap limit
 * can abort the whole process (nodejs/node#47224, reproduced with a 40-way concat), and a busy evaluator can
 * only be stopped by ending it anyway. Idle processes do not keep the agent alive.
 * @throws RangeError when `processes` is outside 1..256; ToolError when the first process fails to start.
 */
export async function createExpressionEvaluator(options: { readonly processes?: number } = {}): Promise<ExpressionEvaluator> {
  const processes = options.processes ?? 1;
  const name = "expression evaluator";
  const pool = new WorkerPool<ExpressionRequest, EvaluateExpressionOutput>({
    name,
    size: processes,
    warm: 1,
    idleStopMs: EXPRESSION_IDLE_STOP_MS,
    growAfterMs: EXPRESSION_GROW_AFTER_MS,
    start: processWorkers(new URL("./expression-process.ts", import.meta.url), {
      name,
      execArgv: [`--max-old-space-size=${EXPRESSION_HEAP_MB}`],
      describeExit: (code, signal) =>
        // V8 aborts (SIGABRT, or exit code 134) when the heap limit is reached: the same expression would again.
        signal === "SIGABRT" || code === 134
          ? new ToolError("TOOL_FAILED", `expression exceeded the ${EXPRESSION_HEAP_MB} MB memory limit`)
          : new ToolError("TOOL_FAILED", `the ${name} stopped`, { retryable: true }),
    }),
  });
  try {
    await pool.ready();
  } catch (error) {
    pool.close();
    throw error;
  }
  return {
    processes,
    evaluate: ({ expression, scope, signal, key }) =>
      pool.run({
        request: { expression, scope },
        limitMs: EXPRESSION_TIMEOUT_MS,
        timeoutMessage: `expression exceeded its ${EXPRESSION_TIMEOUT_MS} ms time limit`,
        cancelMessage: "expression was cancelled",
        signal,
        key,
      }),
    close: () => pool.close(),
  };
}

/**
 * Creates the `evaluate_expression` tool on an {@link ExpressionEvaluator}: restricted mathjs in child processes,
 * off the agent's event loop. Risk tier "compute", idempotent, 10,000 ms tool timeout (a backstop: an expression
 * is killed after {@link EXPRESSION_TIMEOUT_MS}; starting another evaluator process when all are busy takes up
 * to a few seconds on a loaded machine). Calls of one step run one at a time. A multi-statement expression
 * returns its last value.
 * @throws ToolError `TOOL_FAILED` with mathjs's message (parse errors, unknown symbols, disabled functions such as
 *   import/evaluate/createUnit, arrays above {@link MAX_MATRIX_ELEMENTS}) or when the evaluator runs out of memory;
 *   `TOOL_TIMEOUT` after {@link EXPRESSION_TIMEOUT_MS} ms or when the call's signal aborts.
 */
export function createEvaluateExpressionTool(
  evaluator: ExpressionEvaluator,
): Tool<typeof evaluateExpressionInput, EvaluateExpressionOutput> {
  return defineTool({
    name: "evaluate_expression",
    description:
      "Evaluates a math.js expression exactly and returns the value: arithmetic, functions (sqrt, log, sin, mean, " +
      "median, std, sum, ...), matrices `[1,2;3,4]`, ranges `1:10`, units and conversions (`5 cm to inch`), " +
      "complex numbers. `scope` supplies variables. Statements separated by `;` return the last value. " +
      `Limits: ${EXPRESSION_TIMEOUT_MS} ms, arrays of ${MAX_MATRIX_ELEMENTS} elements. ` +
      "Use it instead of doing arithmetic in your head.",
    input: evaluateExpressionInput,
    timeoutMs: 10_000,
    riskTier: "compute",
    idempotent: true,
    execute: ({ expression, scope }, ctx) =>
      evaluator.evaluate({ expression, scope: scope ?? {}, signal: ctx.signal, key: JSON.stringify([ctx.taskId, ctx.stepId]) }),
  });
}
