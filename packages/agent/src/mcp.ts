/**
 * @baton/agent/mcp — tools from MCP servers for your agent: `mcpTools(config, { logger })` starts
 * or reaches each configured server (stdio or Streamable HTTP) and returns a tool provider to put
 * in an agent's tools; only the tools the config allowlists are exposed, each with the risk tier
 * and idempotency the config gives it. A separate entry so that agents without MCP never load the
 * MCP SDK.
 */
export * from "@baton/mcp";
