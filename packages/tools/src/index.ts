/** @baton/tools — the tool kit: tool definitions, registries and the tool-call executor. */
export { type ToolBreakerOptions, ToolBreakers } from "./breakers.ts";
export { type EffectKey, type EffectLedger, effectId } from "./effects.ts";
export { type ExecuteOptions, executeToolCall } from "./execute.ts";
export { type ToolDescription, ToolRegistry } from "./registry.ts";
export { defineTool, type RiskTier, type Tool, type ToolContext, ToolError, type ToolErrorCode } from "./tool.ts";
