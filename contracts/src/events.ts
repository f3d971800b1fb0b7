import { z } from "zod";
import { AgentName } from "./agents.ts";
import { ApprovalCall, ApprovalId } from "./approvals.ts";
import { ErrorInfo } from "./errors.ts";
import { StepId, TaskId, Timestamp } from "./ids.ts";
import { TaskStatus } from "./state.ts";
import { Usage } from "./tool-result.ts";
import { SchemaVersion } from "./version.ts";

const base = { schemaVersion: SchemaVersion, taskId: TaskId, at: Timestamp };

/**
 * Lifecycle events, told apart by `type`: task-level ones from the control plane on
 * `tasks.events.<taskId>.task`, step events from an agent's workers on
 * `tasks.events.<taskId>.agent.<agent>`. Kept in the BATON_EVENTS stream so a client that starts
 * watching late still sees the history. Check where an event came from with {@link isTrustedEvent}.
 */
export const TaskEvent = z.discriminatedUnion("type", [
  z.object({ ...base, type: z.literal("accepted"), goal: z.string() }),
  /** The same submission (same taskId, same body) arrived again: what became of the first. */
  z.object({ ...base, type: z.literal("resubmitted"), status: TaskStatus, acceptedAt: Timestamp }),
  z.object({
    ...base,
    type: z.literal("planned"),
    source: z.enum(["submission", "llm"]),
    steps: z.array(z.object({ id: StepId, agent: AgentName, dependsOn: z.array(StepId) })),
  }),
  z.object({ ...base, type: z.literal("step.dispatched"), stepId: StepId, agent: AgentName, attempt: z.number().int() }),
  z.object({
    ...base,
    type: z.literal("step.waiting"),
    stepId: StepId,
    agent: AgentName,
    /** Why the step is not running yet, e.g. no live replica of its agent. */
    reason: z.string(),
  }),
  z.object({
    ...base,
    type: z.literal("step.awaiting_approval"),
    stepId: StepId,
    agent: AgentName,
    approvalId: ApprovalId,
    /** The gated calls, arguments with secrets redacted. */
    calls: z.array(ApprovalCall),
    reason: z.string(),
    expiresAt: Timestamp,
  }),
  z.object({
    ...base,
    type: z.literal("step.approval_decided"),
    stepId: StepId,
    agent: AgentName,
    approvalId: ApprovalId,
    decision: z.enum(["approve", "deny"]),
    approver: z.string(),
    comment: z.string().optional(),
  }),
  z.object({ ...base, type: z.literal("step.started"), stepId: StepId, agent: AgentName, worker: z.string(), attempt: z.number().int() }),
  z.object({ ...base, type: z.literal("step.completed"), stepId: StepId, agent: AgentName, durationMs: z.number(), usage: Usage }),
  z.object({
    ...base,
    type: z.literal("step.retrying"),
    stepId: StepId,
    agent: AgentName,
    /** The delivery that failed (1 = first). */
    delivery: z.number().int().positive(),
    /** Backoff before the next delivery, in ms. */
    delayMs: z.number().int().nonnegative(),
    error: ErrorInfo,
  }),
  z.object({ ...base, type: z.literal("step.failed"), stepId: StepId, agent: AgentName, durationMs: z.number(), error: ErrorInfo }),
  z.object({ ...base, type: z.literal("synthesizing") }),
  z.object({ ...base, type: z.literal("compensating"), steps: z.array(StepId) }),
  z.object({ ...base, type: z.literal("completed"), durationMs: z.number(), usage: Usage.optional() }),
  z.object({ ...base, type: z.literal("failed"), error: ErrorInfo, failedStep: StepId.optional(), usage: Usage.optional() }),
]);
export type TaskEvent = z.infer<typeof TaskEvent>;

/** The `type` values of {@link TaskEvent}. */
export type TaskEventType = TaskEvent["type"];

/** Event types after which no further event is published for a task. */
export const TERMINAL_EVENT_TYPES: readonly TaskEventType[] = ["completed", "failed"];

/** Event types an agent's workers publish about their own steps. */
export const AGENT_EVENT_TYPES: readonly TaskEventType[] = ["step.started", "step.completed", "step.failed", "step.retrying"];

/**
 * Whether an event may be believed given the subject it arrived on: on a control-plane subject
 * (`tasks.events.<taskId>.task`) any event of that task; on an agent's subject
 * (`tasks.events.<taskId>.agent.<agent>`) only that agent's step events. NATS permissions bind
 * those subjects to their roles, so an agent cannot announce a task completed nor speak for
 * another agent.
 */
export function isTrustedEvent(subject: string, event: TaskEvent): boolean {
  const tokens = subject.split(".");
  if (tokens[0] !== "tasks" || tokens[1] !== "events" || tokens[2] !== event.taskId) return false;
  if (tokens.length === 4 && tokens[3] === "task") return true;
  return (
    tokens.length === 5 && tokens[3] === "agent" && AGENT_EVENT_TYPES.includes(event.type) && "agent" in event && event.agent === tokens[4]
  );
}
