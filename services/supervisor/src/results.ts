import { StepResult, subjects } from "@baton/contracts";
import { type BudgetLedgers, decodeJson, hasBudget, type Logger, type ServiceContext } from "@baton/core";
import type { JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import type { DeadlineWatch } from "./control.ts";
import type { TaskEffects } from "./effects.ts";
import { applyResult, pendingEffects } from "./task-machine.ts";
import type { TaskStore } from "@baton/core";

/**
 * Handles one step result from `results.<agent>.<taskId>.<stepId>`: records it in task state
 * (compare-and-set) when its subject, agent and dispatch id match the step's current dispatch,
 * then dispatches the steps it unblocked, requests synthesis when all steps are done, or fails
 * the task. A result for another dispatch, or from another agent, is ignored. A result that ends
 * the task (a failure under fail-fast, the budget) broadcasts `baton.control.abort.<taskId>` like
 * a cancellation, so the task's other in-flight steps stop instead of running (and reporting) on.
 */
export async function handleResult(
  service: ServiceContext,
  store: TaskStore,
  ledgers: BudgetLedgers,
  msg: JsMsg,
  effects: TaskEffects,
  deadlines?: DeadlineWatch,
): Promise<void> {
  const decoded = decodeJson(msg.data, StepResult);
  if (!decoded.ok) {
    // Only workers publish here; an invalid result is a bug to see in logs, not a task failure
    // we could attribute. It is acked after logging (nothing would make it valid later).
    service.logger.error({ subject: msg.subject, error: decoded.error }, "invalid step result");
    return;
  }
  const result = decoded.value;
  const log = service.logger.child({ taskId: result.taskId, stepId: result.stepId });
  if (msg.subject !== subjects.result(result.agent, result.taskId, result.stepId)) {
    // Permissions bind `results.<agent>.>` to that agent's credentials: a payload speaking for
    // another agent, task or step than its subject is forged. Logged, acked, never applied.
    log.error({ subject: msg.subject, agent: result.agent }, "step result whose subject does not match its agent, task and step ignored");
    return;
  }
  trace.getActiveSpan()?.setAttributes({ "baton.task.id": result.taskId, "baton.step.id": result.stepId });
  // Over budget: record this result but dispatch nothing more (the ledger is shared by every
  // service, so spending anywhere stops the task everywhere). A task without limits has nothing
  // to read there.
  const transition = await store.update(result.taskId, async (state) =>
    applyResult(state, result, new Date(), hasBudget(state) ? await ledgers.overBudget(result.taskId) : undefined),
  );
  if (transition) {
    if (transition.state.status === "running") deadlines?.arm(transition.state.taskId, transition.state.deadlineAt);
    await effects.apply(transition, log);
    if (transition.state.status === "failed" || transition.state.status === "compensating") abortSteps(service, transition.state, log);
    log.info({ status: result.status, task: transition.state.status }, "step result recorded");
    return;
  }
  const current = await store.get(result.taskId);
  if (!current) {
    log.error("result for an unknown task");
    return;
  }
  if (msg.info.deliveryCount > 1) {
    log.warn("redelivered result: replaying pending effects");
    await effects.apply(pendingEffects(current.state), log, { replay: true });
  } else {
    log.info({ attempt: result.attempt, task: current.state.status }, "duplicate or stale result ignored");
  }
}

/**
 * Tells workers to stop the task's in-flight steps (core publish, best effort: a worker that
 * misses it finds the task ended when its step finishes, and reports nothing).
 */
function abortSteps(service: ServiceContext, state: { taskId: string; error?: { code: string } | undefined }, log: Logger): void {
  try {
    service.nc.publish(subjects.abort(state.taskId), JSON.stringify({ taskId: state.taskId, code: state.error?.code }));
  } catch (error) {
    log.warn({ err: error }, "could not broadcast the abort of the task's steps");
  }
}
