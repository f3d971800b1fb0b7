import type { Tool } from "@baton/tools";
import { createEvaluateExpressionTool } from "./evaluate-expression.ts";
import { createRunJavascriptTool } from "./run-javascript.ts";
import { createSandbox } from "./sandbox.ts";

export {
  createEvaluateExpressionTool,
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
  /** Sandbox time limit in ms when a call gives no `timeoutMs`. Default 2,000 (the tool schema also defaults to 2,000). */
  readonly defaultTimeoutMs?: number;
}

/**
 * The code agent's tools: `run_javascript` (QuickJS sandbox) and `evaluate_expression` (mathjs).
 * Loads the QuickJS WASM module on first use.
 * @throws RangeError when a limit is out of range, e.g. `maxStackBytes` above 256 KiB.
 */
export async function createCodeTools(options: CodeToolsOptions = {}): Promise<Tool[]> {
  const sandbox = await createSandbox(options);
  return [createRunJavascriptTool(sandbox) as Tool, createEvaluateExpressionTool() as Tool];
}
