import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type McpToolProvider, mcpTools } from "@baton/mcp";
import { executeToolCall, type Tool, ToolRegistry } from "@baton/tools";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureLogger, MCP_SERVERS } from "../support/mcp-servers.ts";

// The reference filesystem server (@modelcontextprotocol/server-filesystem) over stdio, on a
// temporary folder, through mcpTools: the allowlist, the schemas, reads, writes and tool errors.
describe("mcpTools with the filesystem server over stdio", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-mcp-fs-"));
  const log = captureLogger();
  let provider: McpToolProvider;
  const ctx = () => ({ signal: new AbortController().signal, taskId: "t1", stepId: "s1", inputs: {} });
  const tool = (name: string): Tool => {
    const found = provider.tools().find((t) => t.name === name);
    if (!found) throw new Error(`no tool ${name}`);
    return found;
  };

  beforeAll(async () => {
    writeFileSync(join(dir, "notes.txt"), "first line\nsecond line\n");
    provider = await mcpTools(
      {
        servers: {
          fs: {
            command: process.execPath,
            args: [MCP_SERVERS.filesystem, dir],
            tools: {
              read_text_file: { riskTier: "read", idempotent: true, timeoutMs: 10_000 },
              write_file: { riskTier: "write", idempotent: true, name: "fs_write", description: "Writes a file in the shared folder." },
              list_directory: { riskTier: "read", idempotent: true, display: { format: "markdown", path: "/content" } },
              not_a_real_tool: { riskTier: "read", idempotent: true },
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

  it("exposes only the allowlisted tools the server has, under their configured names", () => {
    expect(provider.tools().map((t) => t.name)).toEqual(["read_text_file", "fs_write", "list_directory"]);
    // The server offers many more (read_file, edit_file, move_file, …): none of them is exposed.
    expect(provider.tools().some((t) => t.name === "move_file" || t.name === "edit_file")).toBe(false);
    expect(provider.status()).toEqual({ fs: "up" });
    // The allowlisted tool the server does not have was logged and skipped.
    const warning = log.lines.find((l) => l.level === 40 && String(l.msg).includes("not_a_real_tool"));
    expect(warning).toBeDefined();
  });

  it("takes each tool's JSON Schema verbatim from the server, and risk tier, idempotency and display from the config", async () => {
    const client = new Client({ name: "schema-check", version: "1.0.0" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_SERVERS.filesystem, dir], stderr: "ignore" }));
    try {
      const listed = await client.listTools();
      const byName = new Map(listed.tools.map((t) => [t.name, t]));
      expect(tool("read_text_file").inputSchema).toEqual(byName.get("read_text_file")?.inputSchema);
      expect(tool("fs_write").inputSchema).toEqual(byName.get("write_file")?.inputSchema);
      expect(tool("read_text_file").description).toBe(byName.get("read_text_file")?.description);
    } finally {
      await client.close();
    }
    expect(tool("fs_write")).toMatchObject({ riskTier: "write", idempotent: true, description: "Writes a file in the shared folder." });
    expect(tool("read_text_file")).toMatchObject({ riskTier: "read", idempotent: true, timeoutMs: 10_000 });
    expect(tool("fs_write").timeoutMs).toBe(30_000);
    expect(tool("list_directory").display).toEqual({ format: "markdown", path: "/content" });
    // These tools declare an output schema: their output is structured, so no text display is implied.
    expect(tool("read_text_file").display).toBeUndefined();
  });

  it("reads and writes files through the Baton tools", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    const read = await executeToolCall(registry, { tool: "read_text_file", args: { path: join(dir, "notes.txt") } }, ctx());
    expect(read).toMatchObject({ ok: true, output: { content: "first line\nsecond line\n" } });

    const target = join(dir, "written.txt");
    const write = await executeToolCall(registry, { tool: "fs_write", args: { path: target, content: "from baton" } }, ctx());
    expect(write.ok).toBe(true);
    expect(readFileSync(target, "utf8")).toBe("from baton");

    const head = await executeToolCall(registry, { tool: "read_text_file", args: { path: join(dir, "notes.txt"), head: 1 } }, ctx());
    expect(head).toMatchObject({ ok: true, output: { content: "first line" } });
  });

  it("checks arguments against the server's schema before calling", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    const result = await executeToolCall(registry, { tool: "read_text_file", args: { path: 42 } }, ctx());
    expect(result).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS", retryable: false } });
    if (result.ok) return;
    expect(result.error.issues?.[0]?.path).toBe("args.path");
  });

  it("turns an isError result (a path outside the allowed folder) into a structured TOOL_FAILED error", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    const result = await executeToolCall(registry, { tool: "read_text_file", args: { path: "/etc/hostname" } }, ctx());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("TOOL_FAILED");
    expect(result.error.retryable).toBe(false);
    expect(result.error.message).toMatch(/access denied.*outside allowed directories/i);
  });
});
