import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serviceByName } from "@baton/cli";
import { afterAll, describe, expect, it } from "vitest";
import { McpAgentConfig } from "../../services/mcp-agent/src/config.ts";
import { createMcpAgent } from "../../services/mcp-agent/src/index.ts";
import { ROOT } from "../support/services.ts";

// services/mcp-agent's configuration: its manifest, its config schema, and a clear exit 1 on a
// bad config before anything connects.
describe("the MCP agent's configuration", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-mcp-agent-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(ROOT, "services", "mcp-agent", "src", "main.ts");
  const run = (env: Record<string, string>) => {
    const { MCP_CONFIG: _drop, ...inherited } = process.env;
    return spawnSync(process.execPath, [main], {
      cwd: ROOT,
      env: { ...inherited, NATS_URL: "nats://127.0.0.1:1", ...env },
      encoding: "utf8",
      timeout: 20_000,
    });
  };

  it("is an agent service that `baton up` does not start by default", () => {
    expect(serviceByName("mcp-agent", ROOT)).toMatchObject({ role: "agent", autostart: false });
  });

  it("takes its identity from the config's agent section", () => {
    const config = McpAgentConfig.parse({ agent: { name: "kb", version: "2.0.0", description: "Knowledge base." }, servers: {} });
    const agent = createMcpAgent(config);
    expect(agent).toMatchObject({ name: "kb", version: "2.0.0", description: "Knowledge base." });
    expect(typeof agent.tools).toBe("function");
    expect(McpAgentConfig.safeParse({ agent: { name: "Kb_1", version: "1", description: "x" }, servers: {} }).success).toBe(false);
  });

  it("exits 1 with a message naming MCP_CONFIG when it is not set", () => {
    const result = run({});
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/MCP_CONFIG: required: the path of the agent's JSON config file/);
  });

  it("exits 1 naming each bad field of the config", () => {
    const file = join(dir, "bad.json");
    writeFileSync(
      file,
      JSON.stringify({
        agent: { name: "Files!", version: "1.0.0", description: "x" },
        servers: { fs: { command: "node", tools: { read_file: { riskTier: "read" } } } },
      }),
    );
    const result = run({ MCP_CONFIG: file });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`McpConfigError: invalid MCP config ${file}:`);
    expect(result.stderr).toContain("agent.name: must be 1-32 characters");
    expect(result.stderr).toContain("servers.fs.tools.read_file.idempotent:");
  });

  it("exits 1 naming an unset variable the config uses", () => {
    const file = join(dir, "unset.json");
    writeFileSync(
      file,
      JSON.stringify({
        agent: { name: "api", version: "1.0.0", description: "x" },
        servers: { api: { url: "http://127.0.0.1:1/mcp", headers: { Authorization: "Bearer ${BATON_TEST_UNSET_TOKEN}" } } },
      }),
    );
    const result = run({ MCP_CONFIG: file });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("servers.api.headers.Authorization: environment variable BATON_TEST_UNSET_TOKEN is not set");
  });
});
