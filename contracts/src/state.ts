import { z } from "zod";
import { ErrorInfo } from "./errors.ts";
import { DispatchId, StepId, TaskId, Timestamp } from "./ids.ts";
import { TaskBudget } from "./budget.ts";
import { AcceptedPlan } from "./plan.ts";
import { GatedTool, StepApproval } from "./approvals.ts";
import { CompensationOutcome, StepOutcome } from "./task.ts";
import { Usage } from "./tool-result.ts";
import { SchemaVersion } from "./version.ts";

/**
 * A step's place in its task's life: pending → dispatched → completed | failed | skipped, with
 * `awaiting_approval` between pending (or dispatched, for an LLM loop that paused) and dispatched
 * while a person decides on its gated tool calls.
 */
export const StepStatus = z.enum(["pending", "awaiting_approval", "dispatched", "completed", "failed", "skipped"]);
export type StepStatus = z.infer<typeof StepStatus>;

/** A task's place in its life. `completed` and `failed` are final. */
export const TaskStatus = z.enum(["running", "synthesizing", "compensating", "completed", "failed"]);
export type TaskStatus = z.infer<typeof TaskStatus>;

/**
 * A task's durable state, one JSON value per task in the KV bucket `baton_tasks` (key = taskId).
 * Written by the supervisor with compare-and-set on the KV revision; read by the CLI.
 */
export const TaskState = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  goal: z.string(),
  plan: AcceptedPlan,
  status: TaskStatus,
  steps: z.record(
    StepId,
    z.object({
      status: StepStatus,
      attempt: z.number().int().nonnegative(),
      /** The id the current dispatch's result must carry. */
      dispatchId: DispatchId.optional(),
      dispatchedAt: Timestamp.optional(),
      outcome: StepOutcome.optional(),
      /** The step's current or last approval. */
      approval: StepApproval.optional(),
    }),
  ),
  error: ErrorInfo.optional(),
  failedStep: StepId.optional(),
  /** Per step, the tools of its agent that need approval in this task (policy, cards and plan at acceptance). */
  gates: z.record(StepId, z.array(GatedTool)).optional(),
  /** How long an approval waits for a decision before it counts as a denial (APPROVAL_TIMEOUT_MS at acceptance), ms. */
  approvalTimeoutMs: z.number().int().positive().optional(),
  /** SHA-256 (hex) of the canonical JSON of the accepted submission: a resubmission with another body is a conflict. */
  submissionSha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** W3C traceparent of the span that accepted the task; later hops join this trace. */
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
  acceptedAt: Timestamp,
  deadlineAt: Timestamp,
  finishedAt: Timestamp.optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** The limits in force (submission's budget over the supervisor's defaults). */
  budget: TaskBudget.optional(),
  /** Usage of the planner's LLM calls, counted in the task's usage. */
  planningUsage: Usage.optional(),
  /** Saga compensations of a failed task, in the order they run (reverse order of completion). */
  compensations: z
    .array(
      CompensationOutcome.extend({
        status: z.enum(["pending", "dispatched", "completed", "failed"]),
        attempt: z.number().int().nonnegative(),
        dispatchId: DispatchId.optional(),
      }),
    )
    .optional(),
});
export type TaskState = z.infer<typeof TaskState>;
