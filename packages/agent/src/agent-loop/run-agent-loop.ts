import type { ToolCallResult } from "@baton/contracts";
import { type ChatRequest, responseText, responseToolCalls } from "@baton/llm";
import { Conversation } from "./conversation.ts";
import { LoopFailure, maxTurnsFailure, throwIfAborted } from "./failures.ts";
import { resolveAgentLimits } from "./limits.ts";
import { assertStepBudget, callModel, type ModelCaller } from "./model-call.ts";
import { runToolCalls } from "./observations.ts";
import { buildSystemPrompt, buildTaskMessage } from "./prompts.ts";
import { buildSummaryRequest } from "./summarize.ts";
import type { AgentLoopOptions, AgentLoopResult } from "./types.ts";
import { UsageMeter } from "./usage-meter.ts";

/**
 * Runs one step as a ReAct loop: system prompt + task turn → model → the turn's tool calls run
 * concurrently through the registry → fenced, size-limited observations → model … until the
 * model answers with text and no tool calls.
 *
 * Before each agent call, when the conversation exceeds `summarizeAfterChars`, all turns but the
 * last `keepLastTurns` are replaced by a summary from one extra model call (tool calls and their
 * results stay together). Every model call is metered: `budget.check()` before, `budget.record()`
 * after, and the step token budget.
 *
 * Ends `completed` with `{ answer, truncated? }` on a final answer (`truncated` when the model
 * stopped at `maxOutputTokens`); a final answer is kept even when its call crossed the step
 * budget, since nothing more is spent. Ends `failed` when the model still calls tools on call
 * `maxTurns` (`MAX_TURNS_EXCEEDED`, those calls not run), when the step used more than
 * `maxStepTokens` and needs another call or tool run (`BUDGET_EXCEEDED`, step budget), when
 * `budget.check()` throws (`BUDGET_EXCEEDED`, task budget), on an `LlmError` (`LLM_FAILED`,
 * `retryable` kept), on an empty answer (`LLM_FAILED`), or on abort (`STEP_FAILED`, retryable).
 * Never throws, except RangeError for invalid `limits`.
 */
export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentLoopResult> {
  const { provider, model, registry, work, signal } = options;
  const limits = resolveAgentLimits(options.limits);
  const meter = new UsageMeter();
  const caller: ModelCaller = { provider, signal, budget: options.budget, meter, maxStepTokens: limits.maxStepTokens };
  const attribution: ChatRequest["attribution"] = { taskId: work.taskId, stepId: work.stepId, agent: work.agent, role: "worker" };
  const toolCalls: ToolCallResult[] = [];
  let turns = 0;
  const finish = (rest: Pick<AgentLoopResult, "status" | "output" | "error">): AgentLoopResult => ({
    ...rest,
    toolCalls,
    usage: meter.usage(toolCalls.length),
    turns,
  });

  try {
    const system = buildSystemPrompt(work.agent, registry.names());
    const tools = registry.describe();
    const conversation = new Conversation(buildTaskMessage(work, { maxInputChars: limits.maxToolResultChars }));
    for (;;) {
      if (conversation.chars() > limits.summarizeAfterChars) {
        const older = conversation.olderTurns(limits.keepLastTurns);
        if (older.length > 0) {
          const request = buildSummaryRequest({
            model,
            instruction: work.instruction,
            previousSummary: conversation.summary,
            turns: older,
            maxTokens: limits.maxOutputTokens,
          });
          const summary = responseText(await callModel(caller, { ...request, attribution }, "summarization call")).trim();
          // An empty summary would lose the turns: keep them, and try again before the next call.
          if (summary) conversation.compact(summary, older.length);
        }
      }

      const response = await callModel(
        caller,
        { model, system, messages: conversation.messages(), tools, maxTokens: limits.maxOutputTokens, attribution },
        `model call ${turns + 1}`,
        () => {
          turns += 1;
        },
      );
      const calls = responseToolCalls(response);
      if (calls.length === 0) {
        const answer = responseText(response);
        if (!answer.trim()) {
          return finish({
            status: "failed",
            error: {
              code: "LLM_FAILED",
              message: `the model ended the step without an answer (stop reason ${response.stopReason})`,
              retryable: response.stopReason !== "refusal",
            },
          });
        }
        return finish({ status: "completed", output: response.stopReason === "max_tokens" ? { answer, truncated: true } : { answer } });
      }
      if (turns >= limits.maxTurns)
        throw maxTurnsFailure(
          limits.maxTurns,
          calls.map((c) => c.name),
        );
      assertStepBudget(caller);
      throwIfAborted(signal);

      const observed = await runToolCalls(
        calls,
        registry,
        { signal, taskId: work.taskId, stepId: work.stepId, inputs: work.inputs },
        {
          maxOutputBytes: options.maxOutputBytes,
          maxResultChars: limits.maxToolResultChars,
          recordArgs: options.recordToolArgs ?? false,
          effects: options.effects,
          breakers: options.breakers,
        },
      );
      toolCalls.push(...observed.results);
      throwIfAborted(signal);
      conversation.addTurn({ call: { role: "assistant", content: response.content }, results: { role: "user", content: observed.blocks } });
    }
  } catch (error) {
    if (error instanceof LoopFailure) return finish({ status: "failed", error: error.info });
    if (signal.aborted)
      return finish({ status: "failed", error: { code: "STEP_FAILED", message: "the agent loop was aborted", retryable: true } });
    const message = error instanceof Error ? error.message : String(error);
    return finish({ status: "failed", error: { code: "INTERNAL", message: `agent loop failed: ${message}`, retryable: true } });
  }
}
