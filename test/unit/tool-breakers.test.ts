import { defineTool, executeToolCall, ToolBreakers, ToolError, ToolRegistry } from "@baton/tools";
import { describe, expect, it } from "vitest";
import { z } from "zod";

describe("per-tool circuit breakers", () => {
  it("opens after consecutive retryable failures, fails fast while open, and closes after a half-open success", async () => {
    let calls = 0;
    let healthy = false;
    const flaky = defineTool({
      name: "flaky",
      description: "fails while unhealthy",
      input: z.object({}),
      timeoutMs: 1_000,
      riskTier: "read",
      idempotent: true,
      async execute() {
        calls++;
        if (!healthy) throw new ToolError("TOOL_FAILED", "upstream 503", { retryable: true });
        return "ok";
      },
    });
    const changes: string[] = [];
    const breakers = new ToolBreakers({
      threshold: 3,
      halfOpenAfterMs: 100,
      onStateChange: (tool, state) => changes.push(`${tool}:${state}`),
    });
    const registry = new ToolRegistry([flaky]);
    const ctx = { signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} };
    const run = () => executeToolCall(registry, { tool: "flaky", args: {} }, ctx, { breakers });

    for (let i = 0; i < 3; i++) expect(await run()).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: true } });
    expect(await run()).toMatchObject({ ok: false, error: { code: "TOOL_CIRCUIT_OPEN", retryable: true } });
    expect(calls).toBe(3); // the open circuit did not call the tool
    expect(breakers.states()).toEqual({ flaky: "open" });

    await new Promise((r) => setTimeout(r, 150));
    healthy = true;
    expect(await run()).toMatchObject({ ok: true, output: "ok" });
    expect(breakers.states()).toEqual({ flaky: "closed" });
    expect(changes).toEqual(["flaky:open", "flaky:half-open", "flaky:closed"]);
  });

  it("does not count non-retryable failures (bad arguments, refusals)", async () => {
    const strict = defineTool({
      name: "strict",
      description: "d",
      input: z.object({ n: z.number() }),
      timeoutMs: 1_000,
      riskTier: "read",
      idempotent: true,
      execute: async () => 1,
    });
    const breakers = new ToolBreakers({ threshold: 1 });
    const registry = new ToolRegistry([strict]);
    const ctx = { signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} };
    for (let i = 0; i < 3; i++) {
      expect(await executeToolCall(registry, { tool: "strict", args: { n: "x" } }, ctx, { breakers })).toMatchObject({
        error: { code: "INVALID_ARGUMENTS" },
      });
    }
    expect(breakers.states()).toEqual({ strict: "closed" });
  });
});
