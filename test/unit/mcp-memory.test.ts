import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type McpToolProvider, mcpTools } from "@baton/mcp";
import { executeToolCall, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogger, MCP_SERVERS } from "../support/mcp-servers.ts";

// The reference knowledge-graph server (@modelcontextprotocol/server-memory) over stdio, its
// store in a temporary file passed through the server's `env`.
describe("mcpTools with the memory server over stdio", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-mcp-memory-"));
  const memoryFile = join(dir, "memory.jsonl");
  const secret = "s3cret-value-never-logged";
  const log = captureLogger();
  let provider: McpToolProvider;
  const ctx = () => ({ signal: new AbortController().signal, taskId: "t1", stepId: "s1", inputs: {} });

  beforeAll(async () => {
    provider = await mcpTools(
      {
        servers: {
          memory: {
            command: process.execPath,
            args: [MCP_SERVERS.memory],
            env: { MEMORY_FILE_PATH: memoryFile, UNRELATED_TOKEN: secret },
            tools: {
              create_entities: { riskTier: "write", idempotent: false },
              read_graph: { riskTier: "read", idempotent: true },
              search_nodes: { riskTier: "read", idempotent: true },
            },
          },
        },
      },
      { logger: log.logger },
    );
  });

  afterAll(async () => {
    await provider?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates entities, then reads them back from the graph", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    expect(registry.names()).toEqual(["create_entities", "read_graph", "search_nodes"]);
    expect(registry.get("create_entities")).toMatchObject({ riskTier: "write", idempotent: false });

    const created = await executeToolCall(
      registry,
      {
        tool: "create_entities",
        args: {
          entities: [
            { name: "Baton", entityType: "project", observations: ["orchestrates agents over NATS"] },
            { name: "NATS", entityType: "system", observations: ["JetStream streams and KV"] },
          ],
        },
      },
      ctx(),
    );
    expect(created.ok).toBe(true);

    const graph = await executeToolCall(registry, { tool: "read_graph", args: {} }, ctx());
    expect(graph.ok).toBe(true);
    if (!graph.ok) return;
    const output = graph.output as { entities: { name: string; entityType: string; observations: string[] }[]; relations: unknown[] };
    expect(output.entities.map((e) => e.name).sort()).toEqual(["Baton", "NATS"]);
    expect(output.entities.find((e) => e.name === "Baton")?.observations).toEqual(["orchestrates agents over NATS"]);
    expect(output.relations).toEqual([]);

    const found = await executeToolCall(registry, { tool: "search_nodes", args: { query: "JetStream" } }, ctx());
    expect(found).toMatchObject({ ok: true, output: { entities: [{ name: "NATS" }] } });

    // The server stored the graph where its env said.
    expect(existsSync(memoryFile)).toBe(true);
    expect(readFileSync(memoryFile, "utf8")).toContain("Baton");
  });

  it("never logs the values of the server's env", () => {
    expect(log.lines.length).toBeGreaterThan(0);
    expect(log.text()).not.toContain(secret);
    expect(log.text()).not.toContain(memoryFile);
  });
});
