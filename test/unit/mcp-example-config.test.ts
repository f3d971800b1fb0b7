import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { McpConfigError, type McpToolProvider, mcpTools } from "@baton/mcp";
import { executeToolCall, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMcpAgentConfig } from "../../services/mcp-agent/src/config.ts";
import { createMcpAgent } from "../../services/mcp-agent/src/index.ts";
import { captureLogger } from "../support/mcp-servers.ts";
import { ROOT } from "../support/services.ts";

// examples/mcp/files-agent.json as a user would run it: every allowlisted tool exists on its
// server, and the agent's tools work on a real folder and memory file.
describe("the example MCP agent config (examples/mcp/files-agent.json)", () => {
  const example = join(ROOT, "examples", "mcp", "files-agent.json");
  const dir = mkdtempSync(join(tmpdir(), "baton-mcp-example-"));
  const log = captureLogger();
  let provider: McpToolProvider;
  let agentName = "";
  const ctx = () => ({ signal: new AbortController().signal, taskId: "t1", stepId: "s1", inputs: {} });

  beforeAll(async () => {
    writeFileSync(join(dir, "todo.txt"), "buy milk\n");
    const config = await loadMcpAgentConfig(example, { ...process.env, FILES_DIR: dir, MEMORY_FILE: `${dir}-memory.jsonl` });
    agentName = createMcpAgent(config).name;
    provider = await mcpTools(config, { logger: log.logger });
  });

  afterAll(async () => {
    await provider?.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-memory.jsonl`, { force: true });
  });

  it("needs FILES_DIR and MEMORY_FILE, and says which is missing", async () => {
    await expect(loadMcpAgentConfig(example, { FILES_DIR: dir })).rejects.toThrow(McpConfigError);
    await expect(loadMcpAgentConfig(example, { FILES_DIR: dir })).rejects.toThrow(
      /servers\.memory\.env\.MEMORY_FILE_PATH: environment variable MEMORY_FILE is not set/,
    );
  });

  it("exposes every allowlisted tool (no typos in the allowlist) with the configured names", () => {
    expect(agentName).toBe("files");
    expect(log.lines.filter((l) => (l.level as number) >= 40)).toEqual([]);
    expect(provider.tools().map((t) => t.name)).toEqual([
      "list_allowed_directories",
      "list_directory",
      "search_files",
      "get_file_info",
      "read_text_file",
      "create_directory",
      "write_file",
      "edit_file",
      "memory_read_graph",
      "memory_search",
      "memory_open_nodes",
      "memory_create_entities",
      "memory_create_relations",
      "memory_add_observations",
    ]);
    const writes = provider.tools().filter((t) => t.riskTier === "write");
    expect(writes.map((t) => t.name)).toEqual([
      "create_directory",
      "write_file",
      "edit_file",
      "memory_create_entities",
      "memory_create_relations",
      "memory_add_observations",
    ]);
  });

  it("edits a file and remembers a fact", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    const file = join(dir, "todo.txt");
    const edit = await executeToolCall(
      registry,
      { tool: "edit_file", args: { path: file, edits: [{ oldText: "milk", newText: "oat milk" }] } },
      ctx(),
    );
    expect(edit).toMatchObject({ ok: true, output: { content: expect.stringContaining("+buy oat milk") } });
    const read = await executeToolCall(registry, { tool: "read_text_file", args: { path: file } }, ctx());
    expect(read).toMatchObject({ ok: true, output: { content: "buy oat milk\n" } });
    const remembered = await executeToolCall(
      registry,
      { tool: "memory_create_entities", args: { entities: [{ name: "todo.txt", entityType: "file", observations: ["shopping list"] }] } },
      ctx(),
    );
    expect(remembered.ok).toBe(true);
    const found = await executeToolCall(registry, { tool: "memory_search", args: { query: "shopping" } }, ctx());
    expect(found).toMatchObject({ ok: true, output: { entities: [{ name: "todo.txt" }] } });
  });
});
