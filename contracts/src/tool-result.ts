import { z } from "zod";
import { ErrorInfo } from "./errors.ts";

/** The outcome of one tool call, as reported in step results. `durationMs` is wall-clock time. */
export const ToolCallResult = z.discriminatedUnion("ok", [
  z.object({
    tool: z.string(),
    args: z.record(z.string(), z.unknown()),
    ok: z.literal(true),
    /** Omitted in task state for all but the step's last call (the step's `output`). */
    output: z.unknown().optional(),
    /** True when a non-idempotent tool's recorded result was reused instead of running it again. */
    replayed: z.boolean().optional(),
    durationMs: z.number().nonnegative(),
  }),
  z.object({
    tool: z.string(),
    args: z.record(z.string(), z.unknown()),
    ok: z.literal(false),
    error: ErrorInfo,
    durationMs: z.number().nonnegative(),
  }),
]);
export type ToolCallResult = z.infer<typeof ToolCallResult>;

/** Usage counters of one step or task. LLM counters stay 0 until an LLM is configured; cost in USD. */
export const Usage = z.object({
  toolCalls: z.number().int().nonnegative().default(0),
  inputTokens: z.number().int().nonnegative().default(0),
  outputTokens: z.number().int().nonnegative().default(0),
  costUsd: z.number().nonnegative().default(0),
});
export type Usage = z.infer<typeof Usage>;

/** Adds usage counters. */
export function addUsage(a: Usage, b: Usage): Usage {
  return {
    toolCalls: a.toolCalls + b.toolCalls,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    costUsd: a.costUsd + b.costUsd,
  };
}

/** Zero usage. */
export const ZERO_USAGE: Usage = Object.freeze({ toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 });
