import { z } from "zod";
import { TaskId, Timestamp } from "./ids.ts";
import { SchemaVersion } from "./version.ts";

/**
 * Per-task limits, set in the submission or by the supervisor's defaults, enforced across all
 * services and replicas. `maxTokens` counts LLM input + output tokens; `maxCostUsd` in USD;
 * `maxWallTimeMs` from acceptance.
 */
export const TaskBudget = z.strictObject({
  maxTokens: z.number().int().positive().optional(),
  maxCostUsd: z.number().positive().optional(),
  maxWallTimeMs: z.number().int().positive().max(86_400_000).optional(),
});
export type TaskBudget = z.infer<typeof TaskBudget>;

/**
 * A task's budget ledger, one value per task in the KV bucket `baton_budgets` (key = taskId),
 * updated with compare-and-set by every process that spends: the single source of truth for
 * "is this task over budget", whichever replica asks.
 */
export const BudgetLedger = z.object({
  schemaVersion: SchemaVersion,
  taskId: TaskId,
  limits: TaskBudget,
  /** Absolute deadline from `limits.maxWallTimeMs`. */
  deadlineAt: Timestamp.optional(),
  used: z.object({
    inputTokens: z.number().int().nonnegative(),
    outputTokens: z.number().int().nonnegative(),
    costUsd: z.number().nonnegative(),
    llmCalls: z.number().int().nonnegative(),
  }),
  /** Set once the task went over a limit: which one, in words. */
  exceeded: z.string().optional(),
});
export type BudgetLedger = z.infer<typeof BudgetLedger>;
