import type { Logger } from "@baton/core";
import { AnthropicProvider } from "./anthropic-provider.ts";
import { detectLlmProvider, type LlmEnv, type LlmSettings, resolveLlmSettings } from "./config.ts";
import { OpenAIProvider } from "./openai-provider.ts";
import { sdkLogger } from "./sdk-errors.ts";
import { withTelemetry } from "./telemetry.ts";
import type { LlmSetup } from "./types.ts";

/** Options of {@link createChatProvider}. */
export interface CreateChatProviderOptions {
  /** Receives one `info` line describing the provider (never its key) and the SDK's own log lines. */
  readonly logger?: Logger | undefined;
}

/** What {@link createChatProvider} builds: an {@link LlmSetup} plus the resolved settings. */
export interface ChatProviderSetup extends LlmSetup {
  /** All resolved settings (provider, base URL, timeouts, prices, …). */
  readonly settings: LlmSettings;
}

/** Whether `env` selects an LLM provider (explicitly or by its credentials); see {@link detectLlmProvider}. */
export function llmConfigured(env: Partial<LlmEnv>): boolean {
  return detectLlmProvider(env) !== undefined;
}

/**
 * Builds the chat provider a service's env describes: {@link AnthropicProvider} or
 * {@link OpenAIProvider} with `LLM_TIMEOUT_MS`, `LLM_MAX_RETRIES` and the price table
 * (defaults + `LLM_PRICES_JSON`), wrapped by {@link withTelemetry} (`LLM_CAPTURE_CONTENT`).
 * Returns undefined when no LLM is configured.
 * @throws ConfigError when the selected provider lacks its credentials.
 */
export function createChatProvider(env: LlmEnv, options: CreateChatProviderOptions = {}): ChatProviderSetup | undefined {
  const settings = resolveLlmSettings(env);
  if (!settings) return undefined;
  const common = {
    baseURL: settings.baseURL,
    timeoutMs: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    prices: settings.prices,
    logger: options.logger ? sdkLogger(options.logger, settings.provider) : undefined,
  };
  const sdkProvider =
    settings.provider === "anthropic"
      ? new AnthropicProvider({ ...common, apiKey: settings.apiKey ?? "" })
      : new OpenAIProvider({ ...common, apiKey: settings.apiKey });
  options.logger?.info(
    {
      provider: settings.provider,
      baseURL: settings.baseURL ?? "(default)",
      models: settings.models,
      timeoutMs: settings.timeoutMs,
      maxRetries: settings.maxRetries,
      captureContent: settings.captureContent,
    },
    "LLM provider configured",
  );
  return {
    provider: withTelemetry(sdkProvider, { captureContent: settings.captureContent }),
    models: settings.models,
    maxOutputTokens: settings.maxOutputTokens,
    settings,
  };
}
