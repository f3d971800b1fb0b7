import { z } from "zod";
import { AgentCard, AgentReplica } from "./agents.ts";
import { ApprovalDecision, ApprovalRecord, ApprovalRequest } from "./approvals.ts";
import { AuditEntry, AuditRecord } from "./audit.ts";
import { TaskEvent } from "./events.ts";
import { Plan } from "./plan.ts";
import { TaskCancel, TaskCompleted, TaskFailed, TaskRejected, TaskSubmission } from "./task.ts";
import { StepResult, StepWork } from "./work.ts";

/**
 * The public messages, by file name, exported as JSON Schema for clients and workers in other
 * languages. `io` is the side a non-Baton program is on: `input` for what it publishes (fields
 * with defaults are optional), `output` for what it receives. The worker protocol: a worker
 * receives `step-work` and publishes `step-result`, `agent-card` and `agent-replica`. An
 * approver receives `approval-request` (and reads `approval-record`) and publishes
 * `approval-decision`; audit producers publish `audit-entry`, readers get `audit-record`.
 */
export const PUBLIC_SCHEMAS = {
  "task-submission": { schema: TaskSubmission, io: "input" },
  "task-cancel": { schema: TaskCancel, io: "input" },
  plan: { schema: Plan, io: "input" },
  "task-rejected": { schema: TaskRejected, io: "output" },
  "task-completed": { schema: TaskCompleted, io: "output" },
  "task-failed": { schema: TaskFailed, io: "output" },
  "task-event": { schema: TaskEvent, io: "output" },
  "step-work": { schema: StepWork, io: "output" },
  "step-result": { schema: StepResult, io: "input" },
  "agent-card": { schema: AgentCard, io: "input" },
  "agent-replica": { schema: AgentReplica, io: "input" },
  "approval-request": { schema: ApprovalRequest, io: "output" },
  "approval-record": { schema: ApprovalRecord, io: "output" },
  "approval-decision": { schema: ApprovalDecision, io: "input" },
  "audit-entry": { schema: AuditEntry, io: "input" },
  "audit-record": { schema: AuditRecord, io: "output" },
} as const;

/**
 * JSON Schema (draft 2020-12) of one public message. Submissions use the input view
 * (fields with defaults are optional); published messages the output view.
 */
export function publicJsonSchema(name: keyof typeof PUBLIC_SCHEMAS): Record<string, unknown> {
  const { schema, io } = PUBLIC_SCHEMAS[name];
  return z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<string, unknown>;
}
