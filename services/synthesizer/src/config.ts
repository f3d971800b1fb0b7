import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import { z } from "zod";

/**
 * The synthesizer's environment (extends {@link BaseServiceEnv}).
 * - `SYNTHESIZER_CONCURRENCY`: tasks synthesized at once; default 4.
 * - `MONGODB_URI`: memory store in MongoDB; unset = the embedded store on JetStream KV.
 */
export const SynthesizerEnv = BaseServiceEnv.extend({
  SYNTHESIZER_CONCURRENCY: envPositiveInt.max(64).default(4),
  MONGODB_URI: z.string().min(1).optional(),
});
export type SynthesizerEnv = z.infer<typeof SynthesizerEnv>;
