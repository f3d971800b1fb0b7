import type { ErrorInfo, StepWork, ToolCallResult } from "@baton/contracts";
import { type ExecuteOptions, executeToolCall, type ToolRegistry } from "@baton/tools";

/** What running a step's tool calls produced. */
export interface StepRun {
  readonly status: "completed" | "failed";
  readonly output?: unknown;
  readonly toolCalls: ToolCallResult[];
  readonly error?: ErrorInfo;
}

/**
 * Runs a step's tool calls in order through the registry and stops at the first failure.
 * The step's output is the last call's output. A step with no tool calls needs an LLM
 * worker, which this release does not have: it fails with `LLM_UNAVAILABLE`.
 */
export async function runStepToolCalls(
  work: StepWork,
  registry: ToolRegistry,
  signal: AbortSignal,
  execute: ExecuteOptions,
): Promise<StepRun> {
  if (work.toolCalls.length === 0) {
    return {
      status: "failed",
      toolCalls: [],
      error: {
        code: "LLM_UNAVAILABLE",
        message: `step "${work.stepId}" has no tool calls, and running a step from its instruction alone needs an LLM worker, which is not configured`,
        retryable: false,
      },
    };
  }
  const results: ToolCallResult[] = [];
  for (const call of work.toolCalls) {
    const result = await executeToolCall(
      registry,
      call,
      { signal, taskId: work.taskId, stepId: work.stepId, inputs: work.inputs },
      execute,
    );
    results.push(result);
    if (!result.ok) {
      return {
        status: "failed",
        toolCalls: results,
        error: { ...result.error, message: `tool call ${results.length} (${call.tool}): ${result.error.message}` },
      };
    }
  }
  const last = results.at(-1);
  return { status: "completed", output: last?.ok ? last.output : undefined, toolCalls: results };
}
