import { z } from "zod";
import { AgentName } from "./agents.ts";
import { ErrorInfo } from "./errors.ts";
import { StepId, TaskId, Timestamp } from "./ids.ts";
import { TaskBudget } from "./budget.ts";
import { cleanText, MAX_METADATA_ENTRIES, notReserved, RESERVED_MESSAGE } from "./limits.ts";
import { Plan } from "./plan.ts";
import { ToolCallResult, Usage } from "./tool-result.ts";
import { SchemaVersion } from "./version.ts";

/**
 * Published by clients on `tasks.submit` (JSON). `taskId` is the idempotency key: the same
 * taskId submitted twice runs once (generated when absent). Without `plan`, the supervisor's
 * LLM planner decomposes `goal`; with no LLM configured such a submission is rejected.
 * `budget` limits tokens, USD and wall time across every service working on the task.
 */
export const TaskSubmission = z
  .object({
    schemaVersion: SchemaVersion.default(1),
    taskId: TaskId.optional(),
    goal: cleanText().trim().min(1, "must not be empty").max(10_000),
    plan: Plan.optional(),
    /** Wall-clock limit for the whole task in ms; default: the supervisor's TASK_TIMEOUT_MS. */
    timeoutMs: z.number().int().positive().max(86_400_000).optional(),
    /** Token, cost and time limits; unset fields take the supervisor's defaults. */
    budget: TaskBudget.optional(),
    /**
     * Free-form labels copied to events and the outcome: at most MAX_METADATA_ENTRIES (32); keys
     * 1–64 characters of `A-Z a-z 0-9 _ . -` (not a reserved name), values at most 256 characters.
     */
    metadata: z
      .record(
        z
          .string()
          .regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 characters of A-Z, a-z, 0-9, '_', '.' or '-'")
          .refine(notReserved, RESERVED_MESSAGE),
        cleanText().max(256),
      )
      .refine((m) => Object.keys(m).length <= MAX_METADATA_ENTRIES, { message: `at most ${MAX_METADATA_ENTRIES} entries` })
      .optional(),
  })
  .superRefine((submission, ctx) => {
    // A step may not ask for more time than its whole task has.
    const limit = submission.timeoutMs;
    if (limit === undefined || !submission.plan) return;
    submission.plan.steps.forEach((step, i) => {
      if (step.timeoutMs !== undefined && step.timeoutMs > limit) {
        ctx.addIssue({
          code: "custom",
          path: ["plan", "steps", i, "timeoutMs"],
          message: `must not exceed the task's timeoutMs (${limit} ms)`,
        });
      }
    });
  });
export type TaskSubmission = z.infer<typeof TaskSubmission>;

/**
 * Published by clients on `tasks.cancel`: the task fails with `CANCELLED`, its in-flight steps
 * are aborted, and no further step is dispatched. Cancelling a finished task does nothing.
 */
export const TaskCancel = z.object({
  schemaVersion: SchemaVersion.default(1),
  taskId: TaskId,
  reason: cleanText().max(1_000).optional(),
});
export type TaskCancel = z.infer<typeof TaskCancel>;

/** Published on `tasks.rejected` when a submission cannot be accepted. Never silently dropped. */
export const TaskRejected = z.object({
  schemaVersion: SchemaVersion,
  /** The submission's taskId when it could be read, else null. */
  taskId: z.string().nullable(),
  error: ErrorInfo,
  receivedBytes: z.number().int().nonnegative(),
  at: Timestamp,
});
export type TaskRejected = z.infer<typeof TaskRejected>;

/** A step's final record in an outcome. Times in ms; `output` is the last tool call's output. */
export const StepOutcome = z.object({
  stepId: StepId,
  agent: AgentName,
  status: z.enum(["completed", "failed", "skipped"]),
  output: z.unknown().optional(),
  toolCalls: z.array(ToolCallResult).default([]),
  error: ErrorInfo.optional(),
  attempt: z.number().int().nonnegative(),
  worker: z.string().optional(),
  startedAt: Timestamp.optional(),
  finishedAt: Timestamp.optional(),
  durationMs: z.number().nonnegative().optional(),
  usage: Usage,
});
export type StepOutcome = z.infer<typeof StepOutcome>;

/** A saga compensation's result in a failed task's outcome. */
export const CompensationOutcome = z.object({
  stepId: StepId,
  agent: AgentName,
  status: z.enum(["pending", "dispatched", "completed", "failed"]),
  output: z.unknown().optional(),
  error: ErrorInfo.optional(),
  durationMs: z.number().nonnegative().optional(),
});
export type CompensationOutcome = z.infer<typeof CompensationOutcome>;

/** Task timings: timestamps plus `durationMs` from acceptance to outcome. */
export const TaskTimings = z.object({
  acceptedAt: Timestamp,
  finishedAt: Timestamp,
  durationMs: z.number().nonnegative(),
});
export type TaskTimings = z.infer<typeof TaskTimings>;

/** Published once on `tasks.completed.<taskId>`. `answer` is Markdown. */
export const TaskCompleted = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  goal: z.string(),
  answer: z.string(),
  answerFormat: z.literal("markdown"),
  steps: z.array(StepOutcome),
  timings: TaskTimings,
  usage: Usage,
  metadata: z.record(z.string(), z.string()).optional(),
});
export type TaskCompleted = z.infer<typeof TaskCompleted>;

/** Published once on `tasks.failed.<taskId>`, with the partial step results. */
export const TaskFailed = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  goal: z.string(),
  error: ErrorInfo,
  failedStep: StepId.optional(),
  steps: z.array(StepOutcome),
  /** Compensations run after the failure (saga), in the order they ran; absent when none. */
  compensations: z.array(CompensationOutcome).optional(),
  timings: TaskTimings,
  usage: Usage,
  metadata: z.record(z.string(), z.string()).optional(),
});
export type TaskFailed = z.infer<typeof TaskFailed>;

/** Either outcome, told apart by `status`. */
export const TaskOutcome = z.discriminatedUnion("status", [
  TaskCompleted.extend({ status: z.literal("completed") }),
  TaskFailed.extend({ status: z.literal("failed") }),
]);
export type TaskOutcome = z.infer<typeof TaskOutcome>;
