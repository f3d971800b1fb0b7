import { z } from "zod";
import { AgentName, ToolName } from "./agents.ts";
import { ErrorInfo } from "./errors.ts";
import { DispatchId, StepId, TaskId, Timestamp } from "./ids.ts";
import { ApprovalCall, WorkApproval } from "./approvals.ts";
import { AcceptedPlan, RetryPolicy } from "./plan.ts";
import { StepOutcome } from "./task.ts";
import { ToolCallResult, Usage } from "./tool-result.ts";
import { SchemaVersion } from "./version.ts";

/** What a work item asks for: the step itself, or its saga compensation. */
export const WorkKind = z.enum(["step", "compensation"]);
export type WorkKind = z.infer<typeof WorkKind>;

/**
 * A step dispatched to a worker on `work.<agent>.<taskId>.<stepId>`. `toolCalls` have their
 * `$fromStep` references already resolved; `inputs` holds each direct dependency's output.
 */
export const StepWork = z.object({
  schemaVersion: SchemaVersion,
  /** `compensation`: run the step's compensating tool call (saga) after the task failed. */
  kind: WorkKind.default("step"),
  taskId: TaskId,
  stepId: StepId,
  agent: AgentName,
  /** This dispatch's id: the result must carry it back (and its `Nats-Msg-Id` is `result-<dispatchId>`). */
  dispatchId: DispatchId,
  goal: z.string(),
  instruction: z.string(),
  /** The step's calls with their `$fromStep` references resolved (so larger than the plan's limits allow). */
  toolCalls: z.array(z.strictObject({ tool: ToolName, args: z.record(z.string(), z.unknown()) })),
  inputs: z.record(StepId, z.unknown()),
  attempt: z.number().int().positive(),
  /** Step wall-clock limit in ms, when the plan set one. */
  timeoutMs: z.number().int().positive().optional(),
  /**
   * The task's deadline when the step was dispatched: the worker stops the step then at the
   * latest, whatever its own limit (a step never outlives its task).
   */
  deadlineAt: Timestamp.optional(),
  /**
   * Whether the task has a budget (token, cost or wall-time limits): the worker then checks the
   * shared budget ledger before the step. Absent: unknown (the worker reads the task's state).
   */
  budgeted: z.boolean().optional(),
  /** The step's retry policy, when the plan set one. */
  retry: RetryPolicy.optional(),
  /** Approval gates of this step and the decisions made; absent when none of its tools is gated. */
  approval: WorkApproval.optional(),
  dispatchedAt: Timestamp,
});
export type StepWork = z.infer<typeof StepWork>;

/** A worker's report for one step, on `results.<agent>.<taskId>.<stepId>`. */
export const StepResult = z.object({
  schemaVersion: SchemaVersion,
  kind: WorkKind.default("step"),
  taskId: TaskId,
  stepId: StepId,
  agent: AgentName,
  /** The `dispatchId` of the work this reports on. */
  dispatchId: DispatchId,
  /** `awaiting_approval`: an LLM loop paused before gated calls; `pending` says which (and where its conversation is saved). */
  status: z.enum(["completed", "failed", "awaiting_approval"]),
  output: z.unknown().optional(),
  pending: z.object({ calls: z.array(ApprovalCall).min(1), checkpoint: z.string().max(512) }).optional(),
  toolCalls: z.array(ToolCallResult),
  error: ErrorInfo.optional(),
  attempt: z.number().int().positive(),
  worker: z.string(),
  startedAt: Timestamp,
  finishedAt: Timestamp,
  durationMs: z.number().nonnegative(),
  usage: Usage,
});
export type StepResult = z.infer<typeof StepResult>;

/** Sent by the supervisor on `synthesis.<taskId>` once every step has finished. */
export const SynthesisRequest = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  goal: z.string(),
  plan: AcceptedPlan,
  steps: z.array(StepOutcome),
  acceptedAt: Timestamp,
  metadata: z.record(z.string(), z.string()).optional(),
  /** Usage of the planner's LLM calls (added to the task's usage). */
  planningUsage: Usage.optional(),
});
export type SynthesisRequest = z.infer<typeof SynthesisRequest>;
