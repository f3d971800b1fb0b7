import type { Tool } from "@baton/tools";
import { createEvaluateExpressionTool } from "./evaluate-expression.ts";
import { createRunJavascriptTool } from "./run-javascript.ts";
import { createSandbox } from "./sandbox.ts";

export {
  createEvaluateExpressionTool,
  EXPRESSION_HEAP_MB,
  EXPRESSION_TIMEOUT_MS,
  type EvaluateExpressionOutput,
  evaluateExpressionInput,
  MAX_MATRIX_ELEMENTS,
} from "./evaluate-expression.ts";
export { createRunJavascriptTool, type RunJavascriptOutput, runJavascriptInput } from "./run-javascript.ts";
export {
  createSandbox,
  MAX_STACK_BYTES,
  SANDBOX_DEFAULTS,
  type Sandbox,
  type SandboxOptions,
  type SandboxRunRequest,
  type SandboxRunResult,
} from "./sandbox.ts";

/** Sandbox limits the code agent's tools are built with; unset fields use {@link SANDBOX_DEFAULTS}. */
export interface CodeToolsOptions {
  /** QuickJS heap limit per `run_javascript` call in bytes. Default 64 MiB. */
  readonly memoryLimitBytes?: number;
  /** QuickJS stack limit in bytes, 16 KiB..256 KiB. Default 256 KiB. */
  readonly maxStackBytes?: number;
  /** `run_javascript` time limit in ms when a call gives no `timeoutMs`. Default 2,000. */
  readonly defaultTimeoutMs?: number;
}

/**
 * The code agent's tools: `run_javascript` (QuickJS sandbox, limits from `options`) and `evaluate_expression`
 * (restricted mathjs in a child process, started and warmed up here). Loads the QuickJS WASM module once per process.
 * @throws RangeError when a limit is out of range, e.g. `maxStackBytes` above 256 KiB (nothing is started then).
 */
export async function createCodeTools(options: CodeToolsOptions = {}): Promise<Tool[]> {
  const sandbox = await createSandbox(options);
  const evaluate = createEvaluateExpressionTool();
  // Warm up: wait until the mathjs child has loaded and run one expression, so the agent reports
  // ready only when a first real call is as fast as the next ones (~300 ms saved on the first step).
  await evaluate.execute(
    { expression: "1 + 1" },
    { signal: new AbortController().signal, taskId: "warm-up", stepId: "warm-up", inputs: {} },
  );
  return [createRunJavascriptTool(sandbox), evaluate];
}
