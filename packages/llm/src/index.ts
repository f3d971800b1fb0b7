/** @baton/llm — chat with tools over the Anthropic and OpenAI SDKs, behind one interface. */
export {
  AnthropicProvider,
  type AnthropicProviderOptions,
  fromAnthropicMessage,
  toAnthropicParams,
} from "./anthropic-provider.ts";
export {
  checkLlmEnv,
  DEFAULT_MODELS,
  detectLlmProvider,
  LlmEnv,
  llmEnvIssues,
  type LlmProviderName,
  type LlmSettings,
  resolveLlmSettings,
} from "./config.ts";
export {
  type ChatProviderSetup,
  type CreateChatProviderOptions,
  createChatProvider,
  llmConfigured,
} from "./create-provider.ts";
export { LlmError } from "./errors.ts";
export {
  fromOpenAICompletion,
  OpenAIProvider,
  type OpenAIProviderOptions,
  PLACEHOLDER_API_KEY,
  parseToolArguments,
  toOpenAIParams,
} from "./openai-provider.ts";
export {
  type CostEstimate,
  costUsd,
  DEFAULT_PRICES,
  findPrice,
  mergePrices,
  ModelPrice,
  PriceTable,
  parsePricesJson,
  responseCost,
} from "./pricing.ts";
export { type ScriptedReply, ScriptedChatProvider } from "./scripted-provider.ts";
export {
  type LlmErrorType,
  llmErrorType,
  retryableStatus,
  type SdkLogger,
  sdkLogger,
  toLlmError,
} from "./sdk-errors.ts";
export { MAX_CONTENT_CHARS, type TelemetryOptions, withTelemetry } from "./telemetry.ts";
export * from "./types.ts";
