import {
  type AgentCard,
  type ApprovalCall,
  type ApprovalDecision,
  type ApprovalPolicy,
  type ApprovalRecord,
  type ApprovalRequest,
  approvalIdOf,
  argsHash,
  type CallDecision,
  type GatedTool,
  needsApproval,
  type Plan,
  type StepApproval,
  type StepWork,
  type TaskState,
} from "@baton/contracts";
import { redact } from "@baton/audit";
import type { TaskEventInput } from "@baton/core";

/** How long an approval waits when the task state does not say (APPROVAL_TIMEOUT_MS's default), ms. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 3_600_000;

/**
 * A change to an approval that a transition asks the supervisor to carry out after storing the
 * state: `open` — record the request in `baton_approvals` and publish it on
 * `approvals.requests.<id>`; `close` — record what became of it.
 */
export type ApprovalChange =
  | { readonly type: "open"; readonly request: ApprovalRequest }
  | {
      readonly type: "close";
      readonly approvalId: string;
      readonly status: Exclude<ApprovalRecord["status"], "pending">;
      readonly decision?: ApprovalDecision;
    };

/**
 * Per step of `plan`, the tools of its agent whose calls need approval under `policy` and the
 * plan's own additions (`plan.approval`), with their risk tiers. Steps with no gated tool are
 * left out; an agent without a card (none registered yet) has no gates.
 */
export function gatesOf(plan: Plan, cardOf: (agent: string) => AgentCard | undefined, policy: ApprovalPolicy): Record<string, GatedTool[]> {
  const gates: Record<string, GatedTool[]> = {};
  for (const step of plan.steps) {
    const tools = (cardOf(step.agent)?.tools ?? [])
      .filter((tool) => needsApproval(policy, step.agent, tool, plan.approval))
      .map((tool) => ({ tool: tool.name, riskTier: tool.riskTier }));
    if (tools.length > 0) gates[step.id] = tools;
  }
  return gates;
}

/**
 * The explicit calls of a step's work that wait for a person: calls of gated tools that the
 * step's current approval has not approved (same tool and `argsHash`). Empty when all may run.
 */
export function undecidedCalls(state: TaskState, work: StepWork): ApprovalCall[] {
  const gates = state.gates?.[work.stepId] ?? [];
  const decided = state.steps[work.stepId]?.approval?.decisions ?? [];
  const calls: ApprovalCall[] = [];
  for (const call of work.toolCalls) {
    const gate = gates.find((g) => g.tool === call.tool);
    if (!gate) continue;
    const hash = argsHash(call.args);
    if (decided.some((d) => d.tool === call.tool && d.argsHash === hash && d.decision === "approve")) continue;
    calls.push({ tool: call.tool, args: call.args, argsHash: hash, riskTier: gate.riskTier });
  }
  return calls;
}

/**
 * Opens the next approval of a step (mutating `state`): the step goes `awaiting_approval`, and the
 * returned request, event and change say so. The calls' arguments are redacted (secret-looking
 * keys, credentials in strings) in everything but their hashes. The approval expires after the
 * task's `approvalTimeoutMs`.
 */
export function openApproval(
  state: TaskState,
  stepId: string,
  calls: readonly ApprovalCall[],
  now: Date,
  checkpoint?: string,
): { change: ApprovalChange; event: TaskEventInput } {
  const step = state.plan.steps.find((s) => s.id === stepId);
  const s = state.steps[stepId];
  if (!step || !s) throw new Error(`step ${stepId} not in task ${state.taskId}`);
  const seq = (s.approval?.seq ?? 0) + 1;
  const approvalId = approvalIdOf(state.taskId, stepId, seq);
  const shown = calls.map((c) => ({ ...c, args: redact(c.args) }));
  const expiresAt = new Date(now.getTime() + (state.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS)).toISOString();
  const reason = reasonOf(shown);
  const approval: StepApproval = {
    seq,
    approvalId,
    calls: shown,
    reason,
    requestedAt: now.toISOString(),
    expiresAt,
    ...(checkpoint ? { checkpoint } : {}),
  };
  s.status = "awaiting_approval";
  s.approval = approval;
  const request: ApprovalRequest = {
    schemaVersion: 1,
    approvalId,
    taskId: state.taskId,
    stepId,
    agent: step.agent,
    goal: state.goal,
    instruction: step.instruction,
    calls: shown,
    reason,
    requestedAt: approval.requestedAt,
    expiresAt,
  };
  return {
    change: { type: "open", request },
    event: { type: "step.awaiting_approval", taskId: state.taskId, stepId, agent: step.agent, approvalId, calls: shown, reason, expiresAt },
  };
}

/** Why the calls wait, e.g. `create_ticket (write) needs approval`. */
function reasonOf(calls: readonly ApprovalCall[]): string {
  const tools = [...new Map(calls.map((c) => [c.tool, c.riskTier])).entries()].map(([tool, tier]) => `${tool} (${tier})`);
  return `${tools.join(", ")} ${tools.length === 1 ? "needs" : "need"} a person's approval under the approval policy`;
}

/** The per-call decisions of an approval decided as a whole (`decision` for every call). */
export function callDecisions(
  approval: StepApproval,
  decision: Pick<ApprovalDecision, "decision" | "approver" | "comment">,
): CallDecision[] {
  return approval.calls.map((c) => ({
    tool: c.tool,
    argsHash: c.argsHash,
    decision: decision.decision,
    approver: decision.approver,
    ...(decision.comment ? { comment: decision.comment } : {}),
  }));
}

/** What a step's work says about approvals: its gated tools and, once decided, the decisions (and checkpoint to resume). */
export function workApproval(state: TaskState, stepId: string): StepWork["approval"] {
  const gates = state.gates?.[stepId];
  if (!gates || gates.length === 0) return undefined;
  const approval = state.steps[stepId]?.approval;
  return {
    gated: gates.map((g) => g.tool),
    decisions: approval?.decisions ?? [],
    ...(approval?.decisions && approval.checkpoint ? { checkpoint: approval.checkpoint } : {}),
  };
}
