/**
 * @baton/mcp-agent — a built-in agent made of configuration: its name, version and description
 * and its tools — the allowlisted tools of MCP servers — come from the JSON file MCP_CONFIG names
 * (see examples/mcp/). Nothing here names a particular agent or tool.
 */
import { type AgentDefinition, defineAgent } from "@baton/agent";
import { mcpTools } from "@baton/mcp";
import type { McpAgentConfig } from "./config.ts";

export { loadMcpAgentConfig, McpAgentConfig, McpAgentEnv, McpAgentIdentity } from "./config.ts";

/**
 * The agent a config describes: its identity from `agent`, its tools from `servers` — started
 * once per replica when it starts (closed on shutdown), kept in step with the servers' tool lists
 * (the card is re-published on a change), and restarted with backoff when a server dies.
 * @throws RangeError when `agent` is not a valid agent definition.
 */
export function createMcpAgent(config: McpAgentConfig): AgentDefinition {
  return defineAgent({
    ...config.agent,
    tools: async (_env, { logger }) => [await mcpTools(config, { logger })],
  });
}
