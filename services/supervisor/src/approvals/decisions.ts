import { type ApprovalDecision, ApprovalDecision as ApprovalDecisionSchema, subjects } from "@baton/contracts";
import { contextFromCarrier, decodeJson, type Logger } from "@baton/core";
import { context } from "@opentelemetry/api";
import type { JsMsg } from "@nats-io/jetstream";
import type { TaskControl } from "../control.ts";
import type { DeadlineWatch } from "../control.ts";
import { applyApprovalDecision } from "../task-machine.ts";

/** What applying decisions needs: task control and the deadline watch (a decision moves the deadline). */
export interface DecisionDeps extends TaskControl {
  readonly deadlines: DeadlineWatch;
}

/**
 * Applies a decision (or an expiry) to the task waiting on it: compare-and-set on the task
 * state, so of two decisions — or a decision racing the expiry — the first wins and the rest
 * change nothing. Then the transition's effects (dispatch, failure, the approval's record) and
 * the moved deadline.
 * @returns whether the decision was applied (false: the approval was closed already, or unknown).
 */
export async function applyDecision(deps: DecisionDeps, decision: ApprovalDecision, log: Logger, expired = false): Promise<boolean> {
  const record = await deps.effects.approvals.get(decision.approvalId);
  if (!record) {
    log.warn({ approvalId: decision.approvalId }, "decision for an unknown approval ignored");
    return false;
  }
  const taskLog = log.child({ taskId: record.taskId, stepId: record.stepId, approvalId: record.approvalId });
  const transition = await deps.store.update(record.taskId, (state) =>
    applyApprovalDecision(state, decision.approvalId, decision, new Date(), expired),
  );
  if (!transition) {
    taskLog.info({ status: record.status }, "decision for an approval no longer open ignored");
    return false;
  }
  await context.with(contextFromCarrier(transition.state), () => deps.effects.apply(transition, taskLog));
  if (transition.state.status === "running") deps.deadlines.arm(record.taskId, transition.state.deadlineAt);
  taskLog.info({ decision: decision.decision, approver: decision.approver, expired }, "approval decided");
  return true;
}

/**
 * Handles one message of `approvals.decisions.<approvalId>` (durable `supervisor-approvals`):
 * the payload's approval id must be the subject's; an invalid decision is logged and acked.
 */
export async function handleDecisionMessage(deps: DecisionDeps, msg: JsMsg): Promise<void> {
  const decoded = decodeJson(msg.data, ApprovalDecisionSchema);
  if (!decoded.ok) {
    deps.service.logger.warn({ subject: msg.subject, error: decoded.error }, "invalid approval decision ignored");
    return;
  }
  if (msg.subject !== subjects.approvalDecision(decoded.value.approvalId)) {
    deps.service.logger.warn({ subject: msg.subject }, "approval decision whose subject does not match its approval id ignored");
    return;
  }
  await applyDecision(deps, decoded.value, deps.service.logger);
}
