import { runAgent } from "@baton/agent";
import { loadConfig } from "@baton/core";
import { createMcpAgent, loadMcpAgentConfig, McpAgentEnv } from "./index.ts";

let agent: ReturnType<typeof createMcpAgent>;
try {
  const { MCP_CONFIG } = loadConfig(McpAgentEnv);
  agent = createMcpAgent(await loadMcpAgentConfig(MCP_CONFIG));
} catch (error) {
  process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exit(1);
}
await runAgent(agent);
