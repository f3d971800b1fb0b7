import type { Tool } from "@baton/tools";
import { createEvaluateExpressionTool, createExpressionEvaluator } from "./evaluate-expression.ts";
import { createRunJavascriptTool } from "./run-javascript.ts";
import { createSandbox } from "./sandbox.ts";

export {
  createEvaluateExpressionTool,
  createExpressionEvaluator,
  EXPRESSION_GROW_AFTER_MS,
  EXPRESSION_HEAP_MB,
  EXPRESSION_IDLE_STOP_MS,
  EXPRESSION_TIMEOUT_MS,
  type EvaluateExpressionOutput,
  type EvaluateRequest,
  type ExpressionEvaluator,
  type ExpressionScope,
  evaluateExpressionInput,
  MAX_MATRIX_ELEMENTS,
} from "./evaluate-expression.ts";
export { createRunJavascriptTool, type RunJavascriptOutput, runJavascriptInput } from "./run-javascript.ts";
export {
  createSandbox,
  HARD_STOP_GRACE_MS,
  MAX_SCRIPT_TIMEOUT_MS,
  MAX_STACK_BYTES,
  SANDBOX_DEFAULTS,
  type Sandbox,
  type SandboxLimits,
  type SandboxOptions,
  type SandboxRunRequest,
  type SandboxRunResult,
} from "./sandbox.ts";
/** Limits and pool sizes the code agent's tools are built with; unset fields use the defaults. */
export interface CodeToolsOptions {
  /** QuickJS heap limit per `run_javascript` call in bytes. Default 64 MiB. */
  readonly memoryLimitBytes?: number;
  /** QuickJS stack limit in bytes, 16 KiB..256 KiB. Default 256 KiB. */
  readonly maxStackBytes?: number;
  /** `run_javascript` time limit in ms when a call gives no `timeoutMs`. Default 2,000. */
  readonly defaultTimeoutMs?: number;
  /** Sandbox threads: `run_javascript` calls that run at once (1..256). Default 1; the agent gives one per step slot. */
  readonly sandboxThreads?: number;
  /** Most `evaluate_expression` processes (1..256; one kept, more on demand). Default 1; the agent gives one per step slot. */
  readonly expressionProcesses?: number;
}

/** The code agent's tools and what stops their threads and processes. */
export interface CodeToolSet {
  readonly tools: Tool[];
  /** Stops the sandbox threads and evaluator processes. */
  close(): void;
}

/**
 * Builds the code agent's tools with their pools: `run_javascript` (QuickJS on a pool of sandbox threads) and
 * `evaluate_expression` (restricted mathjs in child processes, the first started and warmed up here). Both run
 * off the caller's event loop; a call over its limit or cancelled has its thread or process stopped.
 * @throws RangeError when a limit is out of range, e.g. `maxStackBytes` above 256 KiB (nothing is started then).
 */
export async function createCodeToolSet(options: CodeToolsOptions = {}): Promise<CodeToolSet> {
  const { sandboxThreads, expressionProcesses, ...limits } = options;
  const sandbox = await createSandbox({ ...limits, ...(sandboxThreads ? { threads: sandboxThreads } : {}) });
  let evaluator: Awaited<ReturnType<typeof createExpressionEvaluator>>;
  try {
    evaluator = await createExpressionEvaluator(expressionProcesses ? { processes: expressionProcesses } : {});
  } catch (error) {
    sandbox.close();
    throw error;
  }
  const evaluate = createEvaluateExpressionTool(evaluator);
  // Warm up: one expression, so the agent reports ready only when a first real call is as fast as the next ones.
  await evaluate.execute(
    { expression: "1 + 1" },
    { signal: new AbortController().signal, taskId: "warm-up", stepId: "warm-up", inputs: {} },
  );
  return {
    tools: [createRunJavascriptTool(sandbox), evaluate],
    close: () => {
      sandbox.close();
      evaluator.close();
    },
  };
}

/**
 * The code agent's tools ({@link createCodeToolSet}) without the means to stop their pools; idle threads and
 * processes do not keep the process alive.
 */
export async function createCodeTools(options: CodeToolsOptions = {}): Promise<Tool[]> {
  return (await createCodeToolSet(options)).tools;
}
