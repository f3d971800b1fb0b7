/**
 * @baton/mcp — tools from MCP servers for Baton agents, through the official MCP TypeScript SDK
 * (stdio children and Streamable HTTP endpoints): an allowlist of tools per server with the
 * operator's risk tier and idempotency, list changes followed live, dead servers restarted with
 * backoff.
 *
 * ```ts
 * import { loadMcpConfig, mcpTools } from "@baton/mcp";
 *
 * const config = await loadMcpConfig("mcp.json"); // `${VAR}` replaced from the environment
 * const provider = await mcpTools(config, { logger });
 * provider.tools(); // Baton tools; provider.onChange(...) after list changes; await provider.close()
 * ```
 */
export {
  DEFAULT_RESTART,
  exposedName,
  McpRestartConfig,
  McpServerConfig,
  McpServerId,
  McpServersConfig,
  type McpServersConfigInput,
  mcpServersConfigSchema,
  McpToolConfig,
} from "./config.ts";
export { type LoadMcpConfigOptions, loadMcpConfig, McpConfigError, parseMcpConfig } from "./load-config.ts";
export { DEFAULT_CONNECT_TIMEOUT_MS, type McpToolProvider, type McpToolsOptions, mcpTools } from "./mcp-tools.ts";
export { MissingVariableError, substituteEnv } from "./substitute-env.ts";
export { type McpServerStatus, STABLE_CONNECTION_MS } from "./server-connection.ts";
export { failureKind, type McpFailureKind, toToolError } from "./errors.ts";
export { MAX_ERROR_MESSAGE_CHARS, toolErrorOf, toToolOutput } from "./output.ts";
export { TEXT_DISPLAY } from "./baton-tools.ts";
