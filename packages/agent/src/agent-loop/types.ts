import type { StepWork, Usage } from "@baton/contracts";
import type { BudgetGuard } from "@baton/core";
import type { ChatProvider } from "@baton/llm";
import type { EffectLedger, ToolBreakers, ToolRegistry } from "@baton/tools";
import type { StepRun } from "../run-step.ts";
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
}

/** A completed step's output: the model's final text; `truncated` when it stopped at its output token limit. */
export interface AgentAnswer {
  readonly answer: string;
  readonly truncated?: boolean;
}

/**
 * What a run produced; a {@link StepRun} plus usage and turns.
 * - `toolCalls`: every tool call the model made, in order (calls with unparseable arguments
 *   included, as `INVALID_ARGUMENTS` results that were not run).
 * - `error`: set when `status` is `failed`: `MAX_TURNS_EXCEEDED`, `BUDGET_EXCEEDED` (step or
 *   task budget; the message says which), `LLM_FAILED` (the `LlmError`'s `retryable` kept),
 *   `STEP_FAILED` (aborted; retryable), or what the budget guard threw.
 * - `usage`: `toolCalls` = `toolCalls.length`; tokens and USD of every model call, the
 *   summarization calls included (input tokens count cache reads and writes).
 * - `turns`: agent model calls made (summarization calls not counted).
 */
export interface AgentLoopResult extends StepRun {
  readonly status: "completed" | "failed";
  readonly output?: AgentAnswer;
  readonly usage: Usage;
  readonly turns: number;
}
