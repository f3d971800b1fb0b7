/** @baton/tools — the tool kit: tool definitions, registries and the tool-call executor. */
export { type ToolBreakerOptions, ToolBreakers } from "./breakers.ts";
export { type EffectKey, type EffectLedger, effectId, argsHash } from "./effects.ts";
export { type ExecuteOptions, executeToolCall, type ObservedToolCall } from "./execute.ts";
export { type ToolDescription, ToolRegistry } from "./registry.ts";
export {
  type ArgsCheck,
  DEFAULT_TOOL_TIMEOUT_MS,
  defineJsonSchemaTool,
  defineTool,
  type JsonSchemaToolDefinition,
  type RiskTier,
  type Tool,
  type ToolCompensation,
  type ToolContext,
  type ToolDefinition,
  type ToolDisplay,
  ToolError,
  type ToolErrorCode,
  toolCard,
} from "./tool.ts";
export { isToolProvider, type ToolProvider } from "./provider.ts";
