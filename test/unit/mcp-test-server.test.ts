import { type McpToolProvider, mcpTools } from "@baton/mcp";
import { executeToolCall, type Tool, ToolRegistry } from "@baton/tools";
import { afterEach, describe, expect, it } from "vitest";
import { captureLogger, MCP_SERVERS, waitFor } from "../support/mcp-servers.ts";

// Our own MCP server (test/support/mcp-test-server.ts, the SDK's McpServer over stdio): tool
// list changes, a server that dies and is restarted, time limits, environment and close().
describe("mcpTools with the test server over stdio", () => {
  let current: McpToolProvider | undefined;
  const ctx = (signal = new AbortController().signal) => ({ signal, taskId: "t1", stepId: "s1", inputs: {} });

  afterEach(async () => {
    await current?.close();
    current = undefined;
  });

  const start = async (
    tools: Record<string, { riskTier: "read" | "write" | "compute" | "external"; idempotent: boolean; timeoutMs?: number }>,
  ) => {
    const log = captureLogger();
    current = await mcpTools(
      {
        servers: {
          test: {
            command: process.execPath,
            args: [MCP_SERVERS.test],
            env: { MCP_TEST_MARKER: "from-config" },
            restart: { initialDelayMs: 200, maxDelayMs: 2_000 },
            tools,
          },
        },
      },
      { logger: log.logger },
    );
    const p = current;
    const tool = (name: string): Tool => {
      const found = p.tools().find((t) => t.name === name);
      if (!found)
        throw new Error(
          `no tool ${name}; have ${p
            .tools()
            .map((t) => t.name)
            .join(", ")}`,
        );
      return found;
    };
    return { provider: p, log, tool };
  };

  it("follows tools/list_changed: a tool registered at run time appears, onChange fires, and it can be called", async () => {
    const { provider, tool } = await start({
      add_tool: { riskTier: "write", idempotent: true },
      remove_tool: { riskTier: "write", idempotent: true },
      late_tool: { riskTier: "read", idempotent: true },
    });
    // late_tool is allowlisted but the server does not have it yet.
    expect(provider.tools().map((t) => t.name)).toEqual(["add_tool", "remove_tool"]);
    let changes = 0;
    const unsubscribe = provider.onChange(() => changes++);

    await expect(tool("add_tool").execute({ name: "late_tool" }, ctx())).resolves.toEqual({ text: "added late_tool" });
    await waitFor(() => provider.tools().some((t) => t.name === "late_tool"), 10_000, "late_tool to be listed");
    expect(changes).toBeGreaterThanOrEqual(1);
    expect(tool("late_tool").inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } }, required: ["text"] });
    await expect(tool("late_tool").execute({ text: "hi" }, ctx())).resolves.toEqual({ text: "late_tool: hi" });

    // A tool the allowlist does not name stays hidden even when the server adds it.
    const before = changes;
    await tool("add_tool").execute({ name: "not_allowed" }, ctx());
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(provider.tools().map((t) => t.name)).toEqual(["add_tool", "remove_tool", "late_tool"]);
    expect(changes).toBe(before);

    await tool("remove_tool").execute({ name: "late_tool" }, ctx());
    await waitFor(() => !provider.tools().some((t) => t.name === "late_tool"), 10_000, "late_tool to be removed");
    expect(changes).toBeGreaterThan(before);
    unsubscribe();
  });

  it("restarts a server that exits with backoff: calls fail fast and retryable meanwhile, and work again after", async () => {
    const { provider, tool, log } = await start({
      whoami: { riskTier: "read", idempotent: true },
      crash: { riskTier: "external", idempotent: false },
    });
    const first = (await tool("whoami").execute({}, ctx())) as { pid: number };
    const whoami = tool("whoami");

    // The crash call itself fails on the closed connection, retryable.
    await expect(tool("crash").execute({}, ctx())).rejects.toMatchObject({ code: "TOOL_FAILED", retryable: true });
    expect(provider.status().test).toBe("restarting");
    // Its tools stay listed, and a call now fails at once with a retryable error naming the restart.
    expect(provider.tools().map((t) => t.name)).toEqual(["whoami", "crash"]);
    const registry = new ToolRegistry([...provider.tools()]);
    const started = performance.now();
    const down = await executeToolCall(registry, { tool: "whoami", args: {} }, ctx());
    expect(performance.now() - started).toBeLessThan(250);
    expect(down).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: true } });
    if (!down.ok) expect(down.error.message).toMatch(/MCP server "test" is restarting/);

    await waitFor(() => provider.status().test === "up", 10_000, "the server to be restarted");
    const second = (await whoami.execute({}, ctx())) as { pid: number };
    expect(second.pid).not.toBe(first.pid);
    // The tools are the same after the restart: the Tool objects are kept.
    expect(tool("whoami")).toBe(whoami);

    // A second crash soon after backs off longer (attempt 2).
    await tool("crash")
      .execute({}, ctx())
      .catch(() => undefined);
    await waitFor(() => provider.status().test === "up", 10_000, "the second restart");
    const delays = log.lines
      .filter((l) => typeof l.delayMs === "number")
      .map((l) => ({ attempt: l.attempt, delayMs: l.delayMs as number }));
    expect(delays.map((d) => d.attempt)).toEqual([1, 2]);
    expect(delays[0]?.delayMs).toBeGreaterThanOrEqual(100);
    expect(delays[0]?.delayMs).toBeLessThanOrEqual(200);
    expect(delays[1]?.delayMs).toBeGreaterThanOrEqual(200);
    expect(delays[1]?.delayMs).toBeLessThanOrEqual(400);
    expect(log.lines.some((l) => String(l.msg).includes("is down") && Array.isArray(l.stderr))).toBe(true);
  });

  it("gives the child only the configured env on top of a minimal set", async () => {
    const { tool } = await start({ whoami: { riskTier: "read", idempotent: true } });
    process.env.BATON_MCP_TEST_LEAK = "should-not-reach-the-child";
    const me = (await tool("whoami").execute({}, ctx())) as { marker: string | null; home: string | null };
    delete process.env.BATON_MCP_TEST_LEAK;
    expect(me.marker).toBe("from-config");
    expect(me.home).toBe(process.env.HOME ?? null);
  });

  it("maps isError results, time limits and aborted calls to tool errors", async () => {
    const { tool } = await start({
      fail: { riskTier: "compute", idempotent: true },
      slow: { riskTier: "compute", idempotent: true, timeoutMs: 300 },
      echo: { riskTier: "compute", idempotent: true },
    });
    await expect(tool("fail").execute({ message: "quota exhausted" }, ctx())).rejects.toMatchObject({
      name: "ToolError",
      code: "TOOL_FAILED",
      retryable: false,
      message: "quota exhausted",
    });
    // The MCP request's own timeout (the tool's timeoutMs) → TOOL_TIMEOUT, retryable.
    await expect(tool("slow").execute({ ms: 2_000 }, ctx())).rejects.toMatchObject({ code: "TOOL_TIMEOUT", retryable: true });
    // Through the executor as well (its timeout aborts the call's signal).
    const registry = new ToolRegistry([...(current?.tools() ?? [])]);
    const timedOut = await executeToolCall(registry, { tool: "slow", args: { ms: 2_000 } }, ctx());
    expect(timedOut).toMatchObject({ ok: false, error: { code: "TOOL_TIMEOUT", retryable: true } });
    // An aborted signal cancels the request.
    const controller = new AbortController();
    const pending = tool("slow").execute({ ms: 250 }, ctx(controller.signal));
    controller.abort(new Error("step cancelled"));
    await expect(pending).rejects.toMatchObject({ code: "TOOL_TIMEOUT" });
    // A signal aborted before the call: cancelled at once, the connection untouched.
    const aborted = new AbortController();
    aborted.abort(new Error("already cancelled"));
    await expect(tool("echo").execute({ text: "late" }, ctx(aborted.signal))).rejects.toMatchObject({
      code: "TOOL_TIMEOUT",
      retryable: true,
    });
    // The connection is still fine afterwards.
    await expect(tool("echo").execute({ text: "still here" }, ctx())).resolves.toEqual({ text: "echo: still here" });
    expect(tool("echo").display).toEqual({ format: "text", path: "/text" });
  });

  it("close() stops the server and restarts, is idempotent, and later calls fail as closed", async () => {
    const { provider, tool } = await start({ whoami: { riskTier: "read", idempotent: true } });
    const { pid } = (await tool("whoami").execute({}, ctx())) as { pid: number };
    const whoami = tool("whoami");
    await Promise.all([provider.close(), provider.close()]);
    await provider.close();
    expect(provider.status()).toEqual({ test: "closed" });
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(whoami.execute({}, ctx())).rejects.toMatchObject({ code: "TOOL_FAILED", message: 'MCP server "test" is closed' });
  });

  it("exposes nothing, with a warning, when a server's allowlist is empty", async () => {
    const { provider, log } = await start({});
    expect(provider.tools()).toEqual([]);
    expect(provider.status()).toEqual({ test: "up" });
    expect(log.lines.some((l) => l.level === 40 && String(l.msg).includes("no allowlisted tools"))).toBe(true);
  });

  it("fails at start, naming the server, when it cannot be started", async () => {
    await expect(
      mcpTools(
        { servers: { broken: { command: process.execPath, args: ["-e", "process.exit(2)"], tools: {} } } },
        { logger: captureLogger().logger },
      ),
    ).rejects.toThrow(/MCP server "broken" could not be started/);
    await expect(
      mcpTools({ servers: { missing: { command: "/nonexistent/mcp-server-binary", tools: {} } } }, { logger: captureLogger().logger }),
    ).rejects.toThrow(/MCP server "missing" could not be started: .*ENOENT/);
  });
});
