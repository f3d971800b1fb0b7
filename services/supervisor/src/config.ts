import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import type { z } from "zod";

/**
 * The supervisor's environment (extends {@link BaseServiceEnv}).
 * - `SUPERVISOR_CONCURRENCY`: submissions and results handled at once, each; default 8.
 * - `TASK_TIMEOUT_MS`: a task's wall-clock limit unless the submission sets one; default 600,000 ms.
 * - `MAX_SUBMISSION_BYTES`: largest accepted submission; larger → `tasks.rejected`; default 1,048,576 bytes.
 */
export const SupervisorEnv = BaseServiceEnv.extend({
  SUPERVISOR_CONCURRENCY: envPositiveInt.max(256).default(8),
  TASK_TIMEOUT_MS: envPositiveInt.default(600_000),
  MAX_SUBMISSION_BYTES: envPositiveInt.default(1_048_576),
});
export type SupervisorEnv = z.infer<typeof SupervisorEnv>;
