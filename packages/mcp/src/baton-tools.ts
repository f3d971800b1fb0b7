import type { Logger } from "@baton/core";
import { defineJsonSchemaTool, type Tool, type ToolContext, type ToolDisplay } from "@baton/tools";
import type { Tool as McpTool } from "@modelcontextprotocol/sdk/types.js";
import { exposedName, type McpServerConfig, type McpToolConfig } from "./config.ts";

/** Runs one MCP tool call: the MCP tool's name, the checked arguments, the call's context and time limit (ms). */
export type McpCall = (mcpName: string, args: Record<string, unknown>, ctx: ToolContext, timeoutMs: number) => Promise<unknown>;

/** A Baton tool built from an MCP tool, with what it was built from (to reuse it when nothing changed). */
export interface BuiltTool {
  readonly tool: Tool;
  readonly signature: string;
}

/** Display of tools without an output schema: their output is `{ text }`. */
export const TEXT_DISPLAY: ToolDisplay = { format: "text", path: "/text" };

/** Longest description a tool card takes, in characters. */
const MAX_DESCRIPTION_CHARS = 8_000;

/**
 * The Baton tools of one server from its current MCP tool list: one per allowlisted tool the
 * server offers, in allowlist order. An allowlisted tool the server does not offer is logged
 * (warn) and skipped; a tool whose input schema cannot be compiled is logged (error) and skipped.
 * A tool whose MCP definition and config are unchanged since `previous` keeps its Tool object.
 * The MCP `inputSchema` becomes the tool's JSON Schema verbatim.
 */
export function buildServerTools(
  serverId: string,
  server: McpServerConfig,
  listed: readonly McpTool[],
  previous: ReadonlyMap<string, BuiltTool>,
  call: McpCall,
  logger: Logger,
): Map<string, BuiltTool> {
  const offered = new Map(listed.map((t) => [t.name, t]));
  const built = new Map<string, BuiltTool>();
  const missing: string[] = [];
  for (const [mcpName, config] of Object.entries(server.tools)) {
    const mcpTool = offered.get(mcpName);
    if (!mcpTool) {
      missing.push(mcpName);
      continue;
    }
    const signature = JSON.stringify([mcpTool.description, mcpTool.title, mcpTool.inputSchema, mcpTool.outputSchema !== undefined]);
    const before = previous.get(mcpName);
    if (before?.signature === signature) {
      built.set(mcpName, before);
      continue;
    }
    try {
      built.set(mcpName, { tool: toBatonTool(serverId, mcpTool, config, call), signature });
    } catch (error) {
      logger.error(
        { err: error, server: serverId, tool: mcpName },
        `MCP tool ${mcpName} of server "${serverId}" cannot be exposed; skipped`,
      );
    }
  }
  if (missing.length > 0) {
    logger.warn(
      { server: serverId, missing, offered: [...offered.keys()] },
      `MCP server "${serverId}" does not offer allowlisted tools ${missing.join(", ")}; skipped`,
    );
  }
  const unlisted = [...offered.keys()].filter((name) => !(name in server.tools));
  if (unlisted.length > 0) logger.debug({ server: serverId, unlisted }, "MCP tools not in the allowlist are not exposed");
  return built;
}

/**
 * One MCP tool as a Baton tool: its name (or the configured `name`), the configured description
 * or the server's (else its title, else a generic one; cut at 8,000 characters), the server's
 * input schema, and the operator's risk tier, idempotency, time limit and display.
 * @throws RangeError for an invalid name or timeout; Error when the input schema cannot be compiled.
 */
function toBatonTool(serverId: string, mcpTool: McpTool, config: McpToolConfig, call: McpCall): Tool {
  const name = exposedName(mcpTool.name, config);
  const description = (
    config.description ??
    (mcpTool.description?.trim() || mcpTool.title?.trim() || `Tool ${mcpTool.name} of the MCP server "${serverId}".`)
  ).slice(0, MAX_DESCRIPTION_CHARS);
  const display = config.display ?? (mcpTool.outputSchema === undefined ? TEXT_DISPLAY : undefined);
  const timeoutMs = config.timeoutMs;
  const tool: Tool = defineJsonSchemaTool({
    name,
    description,
    inputSchema: mcpTool.inputSchema,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    riskTier: config.riskTier,
    idempotent: config.idempotent,
    ...(display ? { display } : {}),
    execute: (args, ctx) => call(mcpTool.name, args, ctx, tool.timeoutMs),
  });
  return tool;
}
