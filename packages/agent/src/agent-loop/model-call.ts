import type { BudgetGuard } from "@baton/core";
import type { ChatProvider, ChatRequest, ChatResponse } from "@baton/llm";
import { abortedFailure, budgetGuardFailure, LoopFailure, modelFailure, stepBudgetFailure, throwIfAborted } from "./failures.ts";
import { spendOf, type UsageMeter } from "./usage-meter.ts";

/** What every model call of a run shares. */
export interface ModelCaller {
  readonly provider: ChatProvider;
  readonly signal: AbortSignal;
  readonly budget: BudgetGuard | undefined;
  readonly meter: UsageMeter;
  /** The step token budget (input + output). */
  readonly maxStepTokens: number;
}

/**
 * One metered model call: checks the signal, the step token budget (already over → fail) and
 * the task budget (`budget.check()`), calls the provider with the run's signal (a provider that
 * ignores the signal is abandoned on abort), then adds the call's spend to the meter and
 * records it (`budget.record()`).
 * @param what names the call in error messages (`model call 3`, `summarization call`).
 * @param onSend runs right before the request goes to the provider (after every check passed).
 * @throws LoopFailure for every failure: aborted, step budget, task budget, model error.
 */
export async function callModel(
  caller: ModelCaller,
  request: Omit<ChatRequest, "signal">,
  what: string,
  onSend?: () => void,
): Promise<ChatResponse> {
  throwIfAborted(caller.signal);
  assertStepBudget(caller);
  if (caller.budget) {
    try {
      await caller.budget.check();
    } catch (error) {
      throw budgetGuardFailure(error, "check");
    }
  }
  throwIfAborted(caller.signal);
  onSend?.();
  let response: ChatResponse;
  try {
    response = await abandonOnAbort(caller.provider.chat({ ...request, signal: caller.signal }), caller.signal);
  } catch (error) {
    if (error instanceof LoopFailure) throw error;
    if (caller.signal.aborted) throw abortedFailure(caller.signal);
    throw modelFailure(error, what);
  }
  const spend = spendOf(response);
  caller.meter.add(spend);
  if (caller.budget) {
    try {
      await caller.budget.record(spend);
    } catch (error) {
      throw budgetGuardFailure(error, "record");
    }
  }
  return response;
}

/** @throws LoopFailure `BUDGET_EXCEEDED` when the step has used more than `maxStepTokens`. */
export function assertStepBudget(caller: Pick<ModelCaller, "meter" | "maxStepTokens">): void {
  if (caller.meter.tokens > caller.maxStepTokens) throw stepBudgetFailure(caller.meter.tokens, caller.maxStepTokens);
}

/** Settles like `promise`, or rejects with the aborted failure as soon as `signal` aborts. */
function abandonOnAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedFailure(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
