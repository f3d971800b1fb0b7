import type { StepWork, ToolCallResult, Usage } from "@baton/contracts";
import type { BudgetGuard } from "@baton/core";
import type { ChatProvider } from "@baton/llm";
import type { EffectLedger, ExecuteOptions, ToolBreakers, ToolRegistry } from "@baton/tools";
import type { StepRun } from "../run-step.ts";
import type { LoopApprovalDecision, LoopCheckpoint } from "./checkpoint.ts";
import type { AgentLimits } from "./limits.ts";

export type { BudgetGuard, Spend } from "@baton/core";

/** Options of `runAgentLoop`. */
export interface AgentLoopOptions {
  /** The chat model's provider; `chat` may throw `LlmError`. */
  readonly provider: ChatProvider;
  /** Model id passed on every request (agent calls and the summarization call). */
  readonly model: string;
  /** The agent's tools; their descriptions are the request's `tools`. */
  readonly registry: ToolRegistry;
  /** The step: `instruction`, `goal`, `inputs` (upstream outputs by step id), suggested `toolCalls`. */
  readonly work: StepWork;
  /** Stops the loop: the pending model call is abandoned and running tools see the abort. */
  readonly signal: AbortSignal;
  /** Turn, token and size limits; defaults in `DEFAULT_AGENT_LIMITS`. */
  readonly limits?: AgentLimits;
  /**
   * The task's cross-service budget: `check()` before every model call (a `BUDGET_EXCEEDED`
   * error ends the step), `record()` after every model call with its tokens and cost.
   */
  readonly budget?: BudgetGuard;
  /** Largest JSON tool output accepted by the executor, in bytes (executor default 262,144). */
  readonly maxOutputBytes?: number;
  /** Record tool arguments on the tool spans (LOG_PAYLOADS); default false. */
  readonly recordToolArgs?: boolean;
  /** The effect ledger for non-idempotent tools. */
  readonly effects?: EffectLedger;
  /** The process's per-tool circuit breakers. */
  readonly breakers?: ToolBreakers;
  /** Called as each tool call that ran ends (the worker audits it); see `ExecuteOptions.onCall`. */
  readonly onToolCall?: ExecuteOptions["onCall"];
  /**
   * Approval gates (absent: no call waits). When a model turn holds a call of a gated tool
   * without a decision, none of the turn's calls run and the run ends `awaiting_approval` with
   * a checkpoint; run again with `resume` and `decisions` to continue. See {@link AgentLoopApproval}.
   */
  readonly approval?: AgentLoopApproval;
}

/**
 * The approval options of a run.
 * - A call *needs a decision* when its tool is in `gated`, its arguments are JSON and pass the
 *   tool's input schema (calls that would fail validation never run, so they are not put to a
 *   person: they come back to the model as `INVALID_ARGUMENTS`).
 * - `decisions` apply to the calls of the paused turn of `resume` only (matched by tool and
 *   `argsHash` of the call's exact arguments; a deny wins over an approve for the same call);
 *   without `resume` they are ignored, and every later turn's gated calls wait again. Decisions
 *   of earlier pauses passed along too only matter for a byte-identical repeat of a call they
 *   decided (an approved one is approved again: non-idempotent tools are deduplicated by the
 *   effect ledger). Decisions that match no call of the turn are dropped; the matching ones are
 *   kept in the next checkpoint when the turn still waits for another decision.
 * - On resume the paused turn's calls run together: approved and ungated calls normally, denied
 *   ones not at all — each comes back to the model as an error result saying who denied it —
 *   then the loop goes on; `maxTurns`, the step token budget, usage and `toolCalls` continue
 *   from the checkpoint.
 */
export interface AgentLoopApproval {
  /** Tools of this agent whose calls need a person's approval before they run. */
  readonly gated: readonly string[];
  /** Decisions for calls of the paused turn, matched by tool and argsHash (argsHash from @baton/tools: SHA-256 of canonical JSON args). */
  readonly decisions?: readonly LoopApprovalDecision[];
  /** The checkpoint of the paused run, to continue from (JSON-parsed as stored; validated here). */
  readonly resume?: LoopCheckpoint;
}

/**
 * Where a pending call's argument text was found verbatim in data the agent did not write
 * ("argument provenance"): a hint for the approver that the model may be copying injected text
 * into the call — an address, a URL or a message body taken from a document or a tool output.
 */
export interface ArgumentProvenance {
  /** The argument, as a dotted path (`args.to`, `args.recipients.0`). */
  readonly path: string;
  /** Where the text was found: `tool_output <tool> <callId>`, `upstream_result <stepId>` or `conversation_summary`. */
  readonly source: string;
  /** The copied text (normalized: lower case, runs of white space as one space; at most 120 characters). */
  readonly excerpt: string;
}

/** A gated call of the paused turn that has no decision yet. */
export interface PendingApprovalCall {
  /** The model's call id. */
  readonly callId: string;
  readonly tool: string;
  /** The exact arguments the call would run with (a decision covers exactly these). */
  readonly args: Record<string, unknown>;
  /** SHA-256 (hex) of the canonical JSON of `args` (`argsHash` of @baton/tools). */
  readonly argsHash: string;
  /** Arguments holding text copied from untrusted data; absent when none was found. */
  readonly provenance?: readonly ArgumentProvenance[];
}

/** What a paused run waits for: the gated calls without a decision, and the state to resume from. */
export interface PendingApproval {
  readonly checkpoint: LoopCheckpoint;
  readonly calls: readonly PendingApprovalCall[];
}

/** A completed step's output: the model's final text; `truncated` when it stopped at its output token limit. */
export interface AgentAnswer {
  readonly answer: string;
  readonly truncated?: boolean;
}

/**
 * What a run that ended produced; a {@link StepRun} plus usage and turns.
 * - `toolCalls`: every tool call the model made, in order (calls with unparseable arguments
 *   included, as `INVALID_ARGUMENTS` results that were not run).
 * - `error`: set when `status` is `failed`: `MAX_TURNS_EXCEEDED`, `BUDGET_EXCEEDED` (step or
 *   task budget; the message says which), `LLM_FAILED` (the `LlmError`'s `retryable` kept),
 *   `STEP_FAILED` (aborted; retryable), or what the budget guard threw.
 * - `usage`: `toolCalls` = `toolCalls.length`; tokens and USD of every model call, the
 *   summarization calls included (input tokens count cache reads and writes).
 * - `turns`: agent model calls made (summarization calls not counted).
 */
export interface AgentLoopEnded extends StepRun {
  readonly status: "completed" | "failed";
  readonly output?: AgentAnswer;
  readonly usage: Usage;
  readonly turns: number;
  readonly pending?: undefined;
}

/**
 * A run paused for approval (only with `approval`): nothing of the paused turn ran. `toolCalls`,
 * `usage` and `turns` are the step's so far (earlier runs of the step included).
 */
export interface AgentLoopPaused {
  readonly status: "awaiting_approval";
  readonly toolCalls: ToolCallResult[];
  readonly usage: Usage;
  readonly turns: number;
  readonly pending: PendingApproval;
  readonly output?: undefined;
  readonly error?: undefined;
}

/** What a run produced: ended ({@link AgentLoopEnded}) or paused for approval ({@link AgentLoopPaused}). */
export type AgentLoopResult = AgentLoopEnded | AgentLoopPaused;
