import { ApprovalPolicy, DEFAULT_APPROVAL_POLICY } from "@baton/contracts";
import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import { LlmEnv } from "@baton/llm";
import { z } from "zod";

/**
 * The supervisor's environment (extends {@link BaseServiceEnv} and the LLM settings).
 * - `SUPERVISOR_CONCURRENCY`: submissions and results handled at once, each; default 8.
 * - `TASK_TIMEOUT_MS`: a task's recorded deadline unless the submission sets one; default 600,000 ms.
 * - `MAX_SUBMISSION_BYTES`: largest accepted submission; larger → `tasks.rejected`; default 1,048,576 bytes.
 * - `TASK_MAX_TOKENS`, `TASK_MAX_COST_USD`, `TASK_MAX_WALL_TIME_MS`: default per-task budget
 *   (tokens, USD, ms) where the submission sets none; unset = unlimited.
 * - `PLANNER_MAX_REPAIRS`: times an invalid LLM plan is sent back with its errors; default 2.
 * - `PLANNER_MEMORY_TOP_K`: memory summaries given to the planner; default 3.
 * - `MONGODB_URI`: the memory store in MongoDB; unset = JetStream KV.
 * - `DISPATCH_STALE_MS`: a step dispatched this long ago whose work and result are both missing
 *   from their streams (lost by a killed nats-server) is dispatched again; default 15,000 ms.
 * - `APPROVAL_POLICY_JSON`: which tool calls wait for a person, as JSON ({@link ApprovalPolicy});
 *   default `{"tiers":["write","external"]}`.
 * - `APPROVAL_TIMEOUT_MS`: how long an approval waits for a decision before it counts as a
 *   denial; default 3,600,000 ms (1 h). Waiting time does not count against a task's deadline.
 */
export const SupervisorEnv = BaseServiceEnv.extend(LlmEnv.shape).extend({
  SUPERVISOR_CONCURRENCY: envPositiveInt.max(256).default(8),
  TASK_TIMEOUT_MS: envPositiveInt.default(600_000),
  MAX_SUBMISSION_BYTES: envPositiveInt.default(1_048_576),
  TASK_MAX_TOKENS: envPositiveInt.optional(),
  TASK_MAX_COST_USD: z.coerce.number().positive().optional(),
  TASK_MAX_WALL_TIME_MS: envPositiveInt.optional(),
  PLANNER_MAX_REPAIRS: z.coerce.number().int().min(0).max(10).default(2),
  PLANNER_MEMORY_TOP_K: z.coerce.number().int().min(0).max(20).default(3),
  MONGODB_URI: z.string().min(1).optional(),
  DISPATCH_STALE_MS: envPositiveInt.min(1_000).default(15_000),
  APPROVAL_POLICY_JSON: z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined || text.trim() === "") return DEFAULT_APPROVAL_POLICY;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `not JSON: ${(error as Error).message}` });
        return z.NEVER;
      }
      const parsed = ApprovalPolicy.safeParse(raw);
      if (parsed.success) return parsed.data;
      for (const issue of parsed.error.issues) ctx.addIssue({ code: "custom", message: issue.message, path: issue.path });
      return z.NEVER;
    }),
  APPROVAL_TIMEOUT_MS: envPositiveInt.default(3_600_000),
});
export type SupervisorEnv = z.infer<typeof SupervisorEnv>;
