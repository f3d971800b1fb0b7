import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import type { z } from "zod";

/**
 * Environment of every worker agent service (extends {@link BaseServiceEnv}).
 * - `WORKER_CONCURRENCY`: steps this process runs at once; default 4.
 * - `STEP_TIMEOUT_MS`: wall-clock limit of one step unless the plan sets one; default 60,000 ms.
 * - `MAX_TOOL_OUTPUT_BYTES`: largest JSON output of one tool call; default 262,144 bytes.
 */
export const WorkerEnv = BaseServiceEnv.extend({
  WORKER_CONCURRENCY: envPositiveInt.max(256).default(4),
  STEP_TIMEOUT_MS: envPositiveInt.default(60_000),
  MAX_TOOL_OUTPUT_BYTES: envPositiveInt.default(262_144),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
