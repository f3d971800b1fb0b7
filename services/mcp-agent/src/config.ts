import { AgentName } from "@baton/contracts";
import { loadMcpConfig, mcpServersConfigSchema } from "@baton/mcp";
import { z } from "zod";

/**
 * The MCP agent's own environment.
 * - `MCP_CONFIG` (required): path of its JSON config ({@link McpAgentConfig}), relative to the
 *   working directory. `${VAR}` in the file's strings are read from the environment.
 */
export const McpAgentEnv = z.object({
  MCP_CONFIG: z.string({ error: "required: the path of the agent's JSON config file, e.g. examples/mcp/files-agent.json" }).min(1),
});
export type McpAgentEnv = z.infer<typeof McpAgentEnv>;

/**
 * Who the agent is on the bus:
 * - `name`: the agent type ({@link AgentName}: 1–32 characters, `a-z` first, then `a-z 0-9 -`);
 *   plans address it as `"agent": "<name>"`, its card is `baton_agents/<name>`;
 * - `version`: shown in its card, e.g. `1.0.0` (1–64 characters);
 * - `description`: written for planners: what it can and cannot do (1–4,000 characters).
 */
export const McpAgentIdentity = z.strictObject({
  name: AgentName,
  version: z.string().min(1).max(64),
  description: z.string().min(1).max(4_000),
});
export type McpAgentIdentity = z.infer<typeof McpAgentIdentity>;

/** The MCP agent's config file: `{ "agent": { name, version, description }, "servers": { … } }` (servers as in @baton/mcp). */
export const McpAgentConfig = mcpServersConfigSchema({ agent: McpAgentIdentity });
export type McpAgentConfig = z.infer<typeof McpAgentConfig>;

/**
 * Reads the agent's config file: `${VAR}` substituted from `env`, then checked.
 * @throws McpConfigError naming the file and each failing field (or the unset variable).
 */
export function loadMcpAgentConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<McpAgentConfig> {
  return loadMcpConfig(path, { env, schema: McpAgentConfig });
}
