import { type McpToolProvider, mcpTools } from "@baton/mcp";
import { executeToolCall, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  captureLogger,
  type HttpMcpServer,
  type RecordingProxy,
  startEverythingHttp,
  startRecordingProxy,
  waitFor,
} from "../support/mcp-servers.ts";

// The reference "everything" server (@modelcontextprotocol/server-everything streamableHttp) on a
// free port, through the SDK's Streamable HTTP client transport.
describe("mcpTools with the everything server over Streamable HTTP", () => {
  const log = captureLogger();
  const token = "http-secret-token-123";
  let server: HttpMcpServer;
  let provider: McpToolProvider;
  let proxy: RecordingProxy;
  const ctx = () => ({ signal: new AbortController().signal, taskId: "t1", stepId: "s1", inputs: {} });

  beforeAll(async () => {
    server = await startEverythingHttp();
    proxy = await startRecordingProxy(`http://127.0.0.1:${server.port}`);
    provider = await mcpTools(
      {
        servers: {
          everything: {
            url: `${proxy.origin}/mcp`,
            headers: { Authorization: `Bearer ${token}` },
            restart: { initialDelayMs: 100, maxDelayMs: 1_000 },
            tools: {
              echo: { riskTier: "compute", idempotent: true },
              "get-sum": { riskTier: "compute", idempotent: true, name: "get_sum", timeoutMs: 5_000 },
            },
          },
        },
      },
      { logger: log.logger },
    );
  });

  afterAll(async () => {
    await provider?.close();
    await proxy?.close();
    await server?.stop();
  });

  it("calls tools through the HTTP transport; text results come back as { text } with a text display", async () => {
    const registry = new ToolRegistry([...provider.tools()]);
    expect(registry.names()).toEqual(["echo", "get_sum"]);
    expect(registry.get("get_sum")?.display).toEqual({ format: "text", path: "/text" });

    const sum = await executeToolCall(registry, { tool: "get_sum", args: { a: 2, b: 40 } }, ctx());
    expect(sum).toMatchObject({ ok: true, output: { text: "The sum of 2 and 40 is 42." } });
    const echo = await executeToolCall(registry, { tool: "echo", args: { message: "over http" } }, ctx());
    expect(echo).toMatchObject({ ok: true, output: { text: "Echo: over http" } });
    // Every request carried the configured header; its value never reaches the logs (the name may).
    expect(proxy.requests.length).toBeGreaterThanOrEqual(3);
    expect(proxy.requests.every((r) => r.headers.authorization === `Bearer ${token}`)).toBe(true);
    expect(proxy.requests.some((r) => r.method === "POST" && typeof r.headers["mcp-session-id"] === "string")).toBe(true);
    expect(log.text()).toContain("Authorization");
    expect(log.text()).not.toContain(token);
  });

  it("restarts the connection when the HTTP server goes away and comes back on the same port", async () => {
    const tool = provider.tools().find((t) => t.name === "get_sum");
    if (!tool) throw new Error("get_sum missing");
    await server.stop();
    // The next call fails on the connection (retryable), and the provider starts reconnecting.
    await expect(tool.execute({ a: 1, b: 1 }, ctx())).rejects.toMatchObject({ code: "TOOL_FAILED", retryable: true });
    await waitFor(() => provider.status().everything === "restarting", 10_000, "the server to be marked restarting");
    // While it is down, its tools stay listed and calls fail fast.
    expect(provider.tools().map((t) => t.name)).toEqual(["echo", "get_sum"]);
    const started = Date.now();
    await expect(tool.execute({ a: 1, b: 1 }, ctx())).rejects.toMatchObject({
      code: "TOOL_FAILED",
      retryable: true,
      message: expect.stringContaining("restarting"),
    });
    expect(Date.now() - started).toBeLessThan(250);

    server = await startEverythingHttp(server.port);
    await waitFor(() => provider.status().everything === "up", 15_000, "the connection to come back");
    await expect(tool.execute({ a: 20, b: 22 }, ctx())).resolves.toEqual({ text: "The sum of 20 and 22 is 42." });
  });
});
