import { ToolError } from "@baton/tools";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/** What went wrong in an MCP request, for mapping to a {@link ToolError} and for the connection's health. */
export type McpFailureKind = "protocol" | "connection" | "invalid-result";

/**
 * Sorts an error thrown by an MCP request:
 * - `connection`: the connection failed or closed (a transport error such as `fetch failed` or an
 *   HTTP status, `Not connected`, or the SDK's ConnectionClosed);
 * - `invalid-result`: the server answered with a result that fails the SDK's schema;
 * - `protocol`: any other JSON-RPC error from the server or the SDK (timeouts included).
 */
export function failureKind(error: unknown): McpFailureKind {
  if (error instanceof McpError) return hasCode(error, ErrorCode.ConnectionClosed) ? "connection" : "protocol";
  if (error instanceof Error && error.name === "ZodError") return "invalid-result";
  return "connection";
}

/**
 * Maps an error thrown by `callTool` to a {@link ToolError}:
 * - InvalidParams → INVALID_ARGUMENTS, not retryable;
 * - RequestTimeout (the call's timeout, or its signal aborted) → TOOL_TIMEOUT, retryable;
 * - MethodNotFound → TOOL_FAILED, not retryable;
 * - a closed connection or a transport error → TOOL_FAILED, retryable;
 * - a result that fails the protocol's schema → TOOL_FAILED, not retryable;
 * - any other protocol error → TOOL_FAILED, retryable.
 * The message names the server and the MCP tool; the original error is the `cause`.
 */
export function toToolError(error: unknown, serverId: string, mcpName: string): ToolError {
  if (error instanceof ToolError) return error;
  const where = `MCP tool ${mcpName} of server "${serverId}"`;
  const message = error instanceof Error ? error.message : String(error);
  const kind = failureKind(error);
  if (kind === "connection")
    return new ToolError("TOOL_FAILED", `${where}: connection failed: ${message}`, { retryable: true, cause: error });
  if (kind === "invalid-result") {
    return new ToolError("TOOL_FAILED", `${where} returned an invalid result: ${message}`, { retryable: false, cause: error });
  }
  const protocolError = error as McpError;
  if (hasCode(protocolError, ErrorCode.InvalidParams)) {
    return new ToolError("INVALID_ARGUMENTS", `${where}: ${message}`, { retryable: false, cause: error });
  }
  if (hasCode(protocolError, ErrorCode.RequestTimeout)) {
    return new ToolError("TOOL_TIMEOUT", `${where}: ${message}`, { retryable: true, cause: error });
  }
  if (hasCode(protocolError, ErrorCode.MethodNotFound)) {
    return new ToolError("TOOL_FAILED", `${where}: ${message}`, { retryable: false, cause: error });
  }
  return new ToolError("TOOL_FAILED", `${where}: ${message}`, { retryable: true, cause: error });
}

/** Whether a protocol error has the JSON-RPC `code` (servers may send codes outside the SDK's enum). */
export function hasCode(error: McpError, code: ErrorCode): boolean {
  const expected: number = code;
  return error.code === expected;
}
