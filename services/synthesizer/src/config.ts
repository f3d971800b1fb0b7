import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import { LlmEnv } from "@baton/llm";
import { z } from "zod";

/**
 * The synthesizer's environment (extends {@link BaseServiceEnv} and the LLM settings: with an
 * LLM configured, answers are written by `LLM_MODEL_SYNTHESIZER`; without, by the template).
 * - `SYNTHESIZER_CONCURRENCY`: tasks synthesized at once; default 4.
 * - `MONGODB_URI`: memory store in MongoDB; unset = the embedded store on JetStream KV.
 */
export const SynthesizerEnv = BaseServiceEnv.extend(LlmEnv.shape).extend({
  SYNTHESIZER_CONCURRENCY: envPositiveInt.max(64).default(4),
  MONGODB_URI: z.string().min(1).optional(),
});
export type SynthesizerEnv = z.infer<typeof SynthesizerEnv>;
