import { toolErrorOf, toToolError, toToolOutput } from "@baton/mcp";
import { ToolError } from "@baton/tools";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { z } from "zod";

describe("MCP failures as tool errors", () => {
  const map = (error: unknown) => {
    const mapped = toToolError(error, "fs", "read_file");
    return { code: mapped.code, retryable: mapped.retryable, message: mapped.message };
  };

  it("maps protocol errors by their JSON-RPC code", () => {
    expect(map(new McpError(ErrorCode.InvalidParams, "bad path"))).toEqual({
      code: "INVALID_ARGUMENTS",
      retryable: false,
      message: 'MCP tool read_file of server "fs": MCP error -32602: bad path',
    });
    expect(map(new McpError(ErrorCode.RequestTimeout, "Request timed out"))).toMatchObject({ code: "TOOL_TIMEOUT", retryable: true });
    expect(map(new McpError(ErrorCode.MethodNotFound, "no such method"))).toMatchObject({ code: "TOOL_FAILED", retryable: false });
    expect(map(new McpError(ErrorCode.InternalError, "boom"))).toMatchObject({ code: "TOOL_FAILED", retryable: true });
    expect(map(new McpError(ErrorCode.ConnectionClosed, "Connection closed"))).toMatchObject({ code: "TOOL_FAILED", retryable: true });
  });

  it("maps transport failures to retryable TOOL_FAILED and invalid results to non-retryable ones", () => {
    expect(map(new TypeError("fetch failed"))).toMatchObject({
      code: "TOOL_FAILED",
      retryable: true,
      message: expect.stringContaining("connection failed: fetch failed"),
    });
    expect(map(new StreamableHTTPError(404, "Session not found"))).toMatchObject({ code: "TOOL_FAILED", retryable: true });
    expect(map(new Error("Not connected"))).toMatchObject({ code: "TOOL_FAILED", retryable: true });
    const invalid = z.object({ content: z.array(z.unknown()) }).safeParse({ content: 1 });
    expect(map(invalid.error)).toMatchObject({ code: "TOOL_FAILED", retryable: false, message: expect.stringContaining("invalid result") });
    const own = new ToolError("TOOL_REFUSED", "no");
    expect(toToolError(own, "fs", "x")).toBe(own);
  });
});

describe("MCP results as tool outputs", () => {
  it("prefers structuredContent, then { text } for text-only content, else { content }", () => {
    expect(toToolOutput({ content: [{ type: "text", text: "{}" }], structuredContent: { rows: [1] } })).toEqual({ rows: [1] });
    expect(
      toToolOutput({
        content: [
          { type: "text", text: "line 1" },
          { type: "text", text: "line 2" },
        ],
      }),
    ).toEqual({ text: "line 1\nline 2" });
    expect(toToolOutput({ content: [] })).toEqual({ text: "" });
    const mixed = [
      { type: "text" as const, text: "a picture:" },
      { type: "image" as const, data: "iVBORw0KGgo=", mimeType: "image/png" },
    ];
    expect(toToolOutput({ content: mixed })).toEqual({ content: mixed });
  });

  it("turns isError results into TOOL_FAILED (not retryable) with their text", () => {
    const error = toolErrorOf({ content: [{ type: "text", text: "Access denied" }], isError: true }, "fs", "read_file");
    expect(error).toBeInstanceOf(ToolError);
    expect(error).toMatchObject({ code: "TOOL_FAILED", retryable: false, message: "Access denied" });
    expect(toolErrorOf({ content: [], isError: true }, "fs", "read_file").message).toBe(
      'MCP tool read_file of server "fs" reported an error',
    );
    expect(toolErrorOf({ content: [{ type: "text", text: "x".repeat(5_000) }], isError: true }, "fs", "r").message.length).toBeLessThan(
      4_100,
    );
  });
});
