import { ConfigError, envBoolean, envPositiveInt } from "@baton/core";
import { z } from "zod";
import { DEFAULT_PRICES, mergePrices, type PriceTable, parsePricesJson } from "./pricing.ts";
import type { LlmRole } from "./types.ts";

/** The SDK behind the chat models. */
export type LlmProviderName = "anthropic" | "openai";

/**
 * LLM settings a service reads from its environment; merge into a service schema with
 * `BaseServiceEnv.extend(LlmEnv.shape)` (optionally followed by `.superRefine(checkLlmEnv)` so
 * `loadConfig` reports a provider without its key at start-up).
 * - `LLM_PROVIDER`: `anthropic` | `openai`; unset = auto-detect: `ANTHROPIC_API_KEY` → anthropic,
 *   else `OPENAI_API_KEY` or `OPENAI_BASE_URL` → openai, else no LLM (scripted agents only).
 * - `ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL` (without `/v1`; default https://api.anthropic.com).
 * - `OPENAI_API_KEY`, `OPENAI_BASE_URL` (with `/v1`, e.g. `http://127.0.0.1:11434/v1` for
 *   Ollama; any OpenAI-compatible server; no key needed then).
 * - `LLM_MODEL_PLANNER`, `LLM_MODEL_WORKER`, `LLM_MODEL_SYNTHESIZER`: model ids per role;
 *   defaults per provider in {@link DEFAULT_MODELS} (set them for a local server).
 * - `LLM_TIMEOUT_MS`: per-attempt HTTP timeout; default 60,000 ms.
 * - `LLM_MAX_RETRIES`: SDK retries of 408/409/429/5xx, timeouts and connection errors; default 3.
 * - `LLM_MAX_OUTPUT_TOKENS`: output token limit per call; default 4,096.
 * - `LLM_PRICES_JSON`: price overrides, `{"model-id": {"inputPerMTok": 3, "outputPerMTok": 15}}`
 *   (USD per million tokens; optional `cacheReadMultiplier`, `cacheWriteMultiplier`).
 * - `LLM_CAPTURE_CONTENT`: record prompts and completions on spans; default false.
 */
export const LlmEnv = z.object({
  LLM_PROVIDER: z.enum(["anthropic", "openai"]).optional(),
  ANTHROPIC_API_KEY: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.url().optional(),
  LLM_MODEL_PLANNER: z.string().min(1).optional(),
  LLM_MODEL_WORKER: z.string().min(1).optional(),
  LLM_MODEL_SYNTHESIZER: z.string().min(1).optional(),
  LLM_TIMEOUT_MS: envPositiveInt.default(60_000),
  LLM_MAX_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  LLM_MAX_OUTPUT_TOKENS: envPositiveInt.default(4096),
  LLM_PRICES_JSON: z
    .string()
    .transform((json, ctx): PriceTable => {
      try {
        return parsePricesJson(json);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),
  LLM_CAPTURE_CONTENT: envBoolean.default(false),
});
/** Parsed {@link LlmEnv} (a service's parsed env has these keys among others). */
export type LlmEnv = z.output<typeof LlmEnv>;

/**
 * Default models per provider: a cheap, fast model for the planner's routing and the workers'
 * tool loops, a strong one for the synthesizer's final answer.
 */
export const DEFAULT_MODELS: Readonly<Record<LlmProviderName, Readonly<Record<LlmRole, string>>>> = {
  anthropic: { planner: "claude-haiku-4-5", worker: "claude-haiku-4-5", synthesizer: "claude-sonnet-4-6" },
  openai: { planner: "gpt-4.1-mini", worker: "gpt-4.1-mini", synthesizer: "gpt-4.1" },
};

/** Everything needed to build a provider, resolved from {@link LlmEnv}. */
export interface LlmSettings {
  readonly provider: LlmProviderName;
  /** Undefined only for openai behind `OPENAI_BASE_URL`. */
  readonly apiKey: string | undefined;
  readonly baseURL: string | undefined;
  readonly models: Readonly<Record<LlmRole, string>>;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxOutputTokens: number;
  /** Defaults with `LLM_PRICES_JSON` applied. */
  readonly prices: PriceTable;
  readonly captureContent: boolean;
}

/** The provider `env` selects: `LLM_PROVIDER`, else auto-detected; undefined = no LLM configured. */
export function detectLlmProvider(env: Partial<LlmEnv>): LlmProviderName | undefined {
  if (env.LLM_PROVIDER) return env.LLM_PROVIDER;
  if (env.ANTHROPIC_API_KEY) return "anthropic";
  if (env.OPENAI_API_KEY || env.OPENAI_BASE_URL) return "openai";
  return undefined;
}

/** Problems with the LLM variables taken together (a provider without its credentials). */
export function llmEnvIssues(env: Partial<LlmEnv>): { variable: string; message: string }[] {
  const provider = detectLlmProvider(env);
  if (provider === "anthropic" && !env.ANTHROPIC_API_KEY) {
    return [{ variable: "ANTHROPIC_API_KEY", message: "LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY, which is not set" }];
  }
  if (provider === "openai" && !env.OPENAI_API_KEY && !env.OPENAI_BASE_URL) {
    return [
      {
        variable: "OPENAI_API_KEY",
        message:
          "LLM_PROVIDER=openai needs OPENAI_API_KEY (api.openai.com) or OPENAI_BASE_URL (an OpenAI-compatible server), and neither is set",
      },
    ];
  }
  return [];
}

/**
 * A zod `superRefine` step for a service schema that includes {@link LlmEnv}: reports
 * {@link llmEnvIssues} at the offending variable, so `loadConfig` names it.
 */
export function checkLlmEnv(env: Partial<LlmEnv>, ctx: z.RefinementCtx): void {
  for (const issue of llmEnvIssues(env)) ctx.addIssue({ code: "custom", path: [issue.variable], message: issue.message });
}

/**
 * Resolves the LLM settings of a parsed env; undefined when no LLM is configured.
 * @throws ConfigError naming the missing variable (e.g. `LLM_PROVIDER=anthropic` without `ANTHROPIC_API_KEY`).
 */
export function resolveLlmSettings(env: LlmEnv): LlmSettings | undefined {
  const provider = detectLlmProvider(env);
  if (!provider) return undefined;
  const issues = llmEnvIssues(env);
  if (issues.length > 0) {
    throw new ConfigError(`invalid configuration:\n${issues.map((i) => `  ${i.variable}: ${i.message}`).join("\n")}`);
  }
  const defaults = DEFAULT_MODELS[provider];
  return {
    provider,
    apiKey: provider === "anthropic" ? env.ANTHROPIC_API_KEY : env.OPENAI_API_KEY,
    baseURL: provider === "anthropic" ? env.ANTHROPIC_BASE_URL : env.OPENAI_BASE_URL,
    models: {
      planner: env.LLM_MODEL_PLANNER ?? defaults.planner,
      worker: env.LLM_MODEL_WORKER ?? defaults.worker,
      synthesizer: env.LLM_MODEL_SYNTHESIZER ?? defaults.synthesizer,
    },
    timeoutMs: env.LLM_TIMEOUT_MS,
    maxRetries: env.LLM_MAX_RETRIES,
    maxOutputTokens: env.LLM_MAX_OUTPUT_TOKENS,
    prices: mergePrices(env.LLM_PRICES_JSON, DEFAULT_PRICES),
    captureContent: env.LLM_CAPTURE_CONTENT,
  };
}
