import { type ErrorInfo, type ToolCallResult, toFieldIssues, ZERO_USAGE } from "@baton/contracts";
import { type ChatRequest, type ChatResponse, responseText, responseToolCalls } from "@baton/llm";
import { z } from "zod";
import { gateTurn, pendingCalls, type TurnGate } from "./approval.ts";
import { LoopApprovalDecision, LoopCheckpoint } from "./checkpoint.ts";
import { Conversation } from "./conversation.ts";
import { LoopFailure, maxTurnsFailure, throwIfAborted } from "./failures.ts";
import { resolveAgentLimits } from "./limits.ts";
import { assertStepBudget, callModel, type ModelCaller } from "./model-call.ts";
import { runToolCalls } from "./observations.ts";
import { buildSystemPrompt, buildTaskMessage } from "./prompts.ts";
import { buildSummaryRequest } from "./summarize.ts";
import type { AgentLoopEnded, AgentLoopOptions, AgentLoopResult } from "./types.ts";
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
 *
 * With `approval` (see `AgentLoopApproval`): a turn holding a gated call without a decision
 * runs none of its calls and ends the run `awaiting_approval`, with the gated calls still to
 * decide (and their argument provenance) and a {@link LoopCheckpoint}. A run with
 * `approval.resume` starts from that checkpoint: its paused turn's calls run first — approved
 * and ungated ones normally, denied ones not (the model gets a denial as their result) — unless
 * one still lacks a decision (then it pauses again at once, no call run, no model called). A
 * checkpoint that is invalid or of another step ends the run `failed` (`VALIDATION_FAILED`).
 * Without `approval`, the result is never `awaiting_approval` (the first overload says so).
 */
export function runAgentLoop(options: AgentLoopOptions & { readonly approval?: undefined }): Promise<AgentLoopEnded>;
export function runAgentLoop(options: AgentLoopOptions): Promise<AgentLoopResult>;
export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentLoopResult> {
  const { provider, model, registry, work, signal, approval } = options;
  const limits = resolveAgentLimits(options.limits);
  let resume: LoopCheckpoint | undefined;
  let given: readonly LoopApprovalDecision[] = [];
  if (approval?.resume !== undefined) {
    const checked = checkResume(approval.resume, approval.decisions ?? [], work);
    if (!checked.ok) return { status: "failed", error: checked.error, toolCalls: [], usage: { ...ZERO_USAGE }, turns: 0 };
    resume = checked.checkpoint;
    given = checked.decisions;
  }
  const meter = new UsageMeter(resume?.usage);
  const caller: ModelCaller = { provider, signal, budget: options.budget, meter, maxStepTokens: limits.maxStepTokens };
  const attribution: ChatRequest["attribution"] = { taskId: work.taskId, stepId: work.stepId, agent: work.agent, role: "worker" };
  const toolCalls: ToolCallResult[] = resume ? [...resume.toolCalls] : [];
  let turns = resume?.turns ?? 0;
  const finish = (rest: Pick<AgentLoopEnded, "status" | "output" | "error">): AgentLoopEnded => ({
    ...rest,
    toolCalls,
    usage: meter.usage(toolCalls.length),
    turns,
  });
  const gated = new Set(approval?.gated ?? []);

  try {
    const system = approval
      ? buildSystemPrompt(
          work.agent,
          registry.names(),
          registry.names().filter((name) => gated.has(name)),
        )
      : buildSystemPrompt(work.agent, registry.names());
    const tools = registry.describe();
    const conversation = resume
      ? Conversation.restore(resume.conversation)
      : new Conversation(buildTaskMessage(work, { maxInputChars: limits.maxToolResultChars }));
    // The paused turn of a resumed run, played before any new model call.
    let paused = resume ? { content: resume.pending.content, decisions: mergeDecisions(resume.pending.decisions, given) } : undefined;
    for (;;) {
      let content: ChatResponse["content"];
      let decisions: readonly LoopApprovalDecision[] = [];
      if (paused) {
        ({ content, decisions } = paused);
        paused = undefined;
      } else {
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
        if (responseToolCalls(response).length === 0) {
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
        content = response.content;
      }
      const calls = responseToolCalls({ content });
      if (turns >= limits.maxTurns)
        throw maxTurnsFailure(
          limits.maxTurns,
          calls.map((c) => c.name),
        );
      assertStepBudget(caller);
      throwIfAborted(signal);

      let denials: TurnGate["denials"] | undefined;
      if (approval) {
        const gate = gateTurn(calls, registry, gated, decisions);
        if (gate.undecided.length > 0) {
          const checkpoint: LoopCheckpoint = LoopCheckpoint.parse({
            version: 1,
            taskId: work.taskId,
            stepId: work.stepId,
            agent: work.agent,
            turns,
            usage: meter.usage(toolCalls.length),
            toolCalls,
            conversation: conversation.snapshot(),
            pending: { content, decisions: gate.matched },
          });
          return {
            status: "awaiting_approval",
            toolCalls,
            usage: meter.usage(toolCalls.length),
            turns,
            pending: { checkpoint, calls: pendingCalls(gate.undecided, conversation, work) },
          };
        }
        denials = gate.denials;
      }

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
          onCall: options.onToolCall,
          ...(denials?.size ? { denials } : {}),
        },
      );
      toolCalls.push(...observed.results);
      throwIfAborted(signal);
      conversation.addTurn({ call: { role: "assistant", content }, results: { role: "user", content: observed.blocks } });
    }
  } catch (error) {
    if (error instanceof LoopFailure) return finish({ status: "failed", error: error.info });
    if (signal.aborted)
      return finish({ status: "failed", error: { code: "STEP_FAILED", message: "the agent loop was aborted", retryable: true } });
    const message = error instanceof Error ? error.message : String(error);
    return finish({ status: "failed", error: { code: "INTERNAL", message: `agent loop failed: ${message}`, retryable: true } });
  }
}

/** The decisions kept in the checkpoint, then the new ones, each decision once. */
function mergeDecisions(kept: readonly LoopApprovalDecision[], given: readonly LoopApprovalDecision[]): LoopApprovalDecision[] {
  const byValue = new Map<string, LoopApprovalDecision>();
  for (const d of [...kept, ...given]) byValue.set(JSON.stringify([d.tool, d.argsHash, d.decision, d.approver, d.comment ?? null]), d);
  return [...byValue.values()];
}

const Decisions = z.array(LoopApprovalDecision);

/**
 * The checkpoint to resume from and the decisions, parsed again (they come back from storage and
 * from approvers) and checked against the step: refused (`VALIDATION_FAILED`, not retryable) when
 * either is invalid or the checkpoint belongs to another task, step or agent.
 */
function checkResume(
  raw: unknown,
  rawDecisions: unknown,
  work: AgentLoopOptions["work"],
): { ok: true; checkpoint: LoopCheckpoint; decisions: LoopApprovalDecision[] } | { ok: false; error: ErrorInfo } {
  const invalid = (message: string, error: z.ZodError, prefix: string) => ({
    ok: false as const,
    error: { code: "VALIDATION_FAILED" as const, message, retryable: false, issues: toFieldIssues(error, prefix) },
  });
  const parsed = LoopCheckpoint.safeParse(raw);
  if (!parsed.success) return invalid("the approval checkpoint to resume from is invalid", parsed.error, "checkpoint");
  const decisions = Decisions.safeParse(rawDecisions);
  if (!decisions.success) return invalid("the approval decisions are invalid", decisions.error, "decisions");
  const { taskId, stepId, agent } = parsed.data;
  if (taskId !== work.taskId || stepId !== work.stepId || agent !== work.agent) {
    return {
      ok: false,
      error: {
        code: "VALIDATION_FAILED",
        message: `the approval checkpoint belongs to ${agent} step ${stepId} of task ${taskId}, not to ${work.agent} step ${work.stepId} of task ${work.taskId}`,
        retryable: false,
      },
    };
  }
  return { ok: true, checkpoint: parsed.data, decisions: decisions.data };
}
