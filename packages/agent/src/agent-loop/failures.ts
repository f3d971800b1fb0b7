import type { ErrorInfo } from "@baton/contracts";
import { toErrorInfo } from "@baton/core";

/** Ends a run early; `runAgentLoop` turns it into a failed result carrying `info`. */
export class LoopFailure extends Error {
  override readonly name = "LoopFailure";
  readonly info: ErrorInfo;
  constructor(info: ErrorInfo) {
    super(info.message);
    this.info = info;
  }
}

/** The model still called tools after `maxTurns` agent calls. Not retryable. */
export function maxTurnsFailure(maxTurns: number, pendingTools: readonly string[]): LoopFailure {
  return new LoopFailure({
    code: "MAX_TURNS_EXCEEDED",
    message: `the model made ${maxTurns} calls (the maxTurns limit) without a final answer; its last tool calls (${pendingTools.join(", ")}) were not run`,
    retryable: false,
  });
}

/** The step's own token budget is spent. Not retryable. */
export function stepBudgetFailure(usedTokens: number, maxStepTokens: number): LoopFailure {
  return new LoopFailure({
    code: "BUDGET_EXCEEDED",
    message: `step token budget exceeded: ${usedTokens} tokens used (input + output) of the step's ${maxStepTokens}`,
    retryable: false,
  });
}

/**
 * The task budget guard threw in `op`: `BUDGET_EXCEEDED` (task budget) when the error has that
 * code, else the error's own info (unknown errors: retryable `INTERNAL`).
 */
export function budgetGuardFailure(error: unknown, op: "check" | "record"): LoopFailure {
  const info = toErrorInfo(error);
  if (hasCode(error, "BUDGET_EXCEEDED") || info.code === "BUDGET_EXCEEDED") {
    const message = error instanceof Error ? error.message : String(error);
    return new LoopFailure({ code: "BUDGET_EXCEEDED", message: `task budget exceeded: ${message}`, retryable: false });
  }
  return new LoopFailure({ ...info, message: `task budget ${op} failed: ${info.message}` });
}

/** A model call threw: an `LlmError` keeps its `LLM_FAILED` code and `retryable` flag; others become retryable `INTERNAL`. */
export function modelFailure(error: unknown, what: string): LoopFailure {
  const info = toErrorInfo(error);
  return new LoopFailure({ ...info, message: `${what} failed: ${info.message}` });
}

/** The run's signal was aborted (shutdown or the step's time limit). Retryable `STEP_FAILED`. */
export function abortedFailure(signal: AbortSignal): LoopFailure {
  const reason: unknown = signal.reason;
  const why = reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason);
  return new LoopFailure({ code: "STEP_FAILED", message: `the agent loop was aborted (${why})`, retryable: true });
}

/** @throws LoopFailure when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortedFailure(signal);
}

function hasCode(error: unknown, code: string): boolean {
  return typeof error === "object" && error !== null && "code" in error && error.code === code;
}
