import { ToolError } from "@baton/tools";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";

/** Longest error message taken from an `isError` result, in characters (the rest is cut). */
export const MAX_ERROR_MESSAGE_CHARS = 4_000;

/**
 * The Baton output of a successful MCP tool result:
 * - `structuredContent` when the server sent it;
 * - else `{ text }` when every content block is text (joined with newlines; no content: `""`);
 * - else `{ content }`: the content blocks as the server sent them (images, audio, resources).
 */
export function toToolOutput(result: CallToolResult): unknown {
  if (result.structuredContent !== undefined) return result.structuredContent;
  const content = result.content ?? [];
  if (content.every((block) => block.type === "text")) return { text: textOf(result) };
  return { content };
}

/**
 * The {@link ToolError} for a result with `isError: true`: TOOL_FAILED, not retryable, whose
 * message is the result's text content (cut at {@link MAX_ERROR_MESSAGE_CHARS}).
 */
export function toolErrorOf(result: CallToolResult, serverId: string, mcpName: string): ToolError {
  const text = textOf(result).trim();
  const message = text ? cut(text, MAX_ERROR_MESSAGE_CHARS) : `MCP tool ${mcpName} of server "${serverId}" reported an error`;
  return new ToolError("TOOL_FAILED", message, { retryable: false });
}

/** The text blocks of a result, joined with newlines. */
function textOf(result: CallToolResult): string {
  return (result.content ?? []).flatMap((block) => (block.type === "text" ? [block.text] : [])).join("\n");
}

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (cut at ${max} characters)`;
}
