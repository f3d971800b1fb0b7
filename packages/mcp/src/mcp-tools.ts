import { createLogger, type Logger } from "@baton/core";
import type { Tool, ToolProvider } from "@baton/tools";
import pkg from "../package.json" with { type: "json" };
import { type McpServerConfig, McpServersConfig, type McpServersConfigInput } from "./config.ts";
import { checkMcpConfig } from "./load-config.ts";
import { McpServerConnection, type McpServerStatus } from "./server-connection.ts";
import { transportKind } from "./transport.ts";

/** Options of {@link mcpTools}. */
export interface McpToolsOptions {
  /** Where to log (pino); default warnings and errors as JSON on stderr. Env and header values are never logged. */
  readonly logger?: Logger;
  /** Time limit of connecting to a server (initialize) and of each `tools/list`, in ms; default 30,000. */
  readonly connectTimeoutMs?: number;
}

/** The tools of MCP servers, as {@link mcpTools} returns them. */
export interface McpToolProvider extends ToolProvider {
  /** Each server's status by id (`up`, `restarting` while it is restarted, `closed` after {@link close}). */
  status(): Readonly<Record<string, McpServerStatus>>;
}

/** Default of {@link McpToolsOptions.connectTimeoutMs}, in ms. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Starts the MCP servers of a config (stdio children, Streamable HTTP connections) through the
 * official MCP SDK and exposes their allowlisted tools as Baton tools:
 * - each tool's JSON Schema is the MCP tool's `inputSchema`, verbatim; its risk tier, idempotency,
 *   time limit, name, description and display come from the config;
 * - a call is `tools/call` with the call's AbortSignal and time limit; its output is the result's
 *   `structuredContent`, else `{ text }`, else `{ content }`; failures are {@link ToolError}s
 *   (`isError` → TOOL_FAILED, not retryable);
 * - `notifications/tools/list_changed` re-lists the server's tools, then tells the `onChange`
 *   listeners (an agent re-publishes its card);
 * - a server that dies is restarted with exponential backoff (`restart`); meanwhile its tools stay
 *   listed and calls fail fast with a retryable TOOL_FAILED; after it is back its tools are listed
 *   again;
 * - `close()` stops every server and every restart (idempotent).
 * Servers are started in parallel; when any cannot start, the others are closed again.
 * @param config `{ servers }` as {@link McpServersConfig} describes (validated again here; other
 *   top-level fields, such as an agent section, are ignored).
 * @throws McpConfigError when the config fails the schema (every failing field named);
 *   Error naming each server that could not be started, and why.
 */
export async function mcpTools(config: Pick<McpServersConfigInput, "servers">, options: McpToolsOptions = {}): Promise<McpToolProvider> {
  const { servers } = checkMcpConfig({ servers: config.servers }, McpServersConfig);
  const logger = options.logger ?? createLogger({ service: "mcp", level: "warn", destination: process.stderr });
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const listeners = new Set<() => void>();
  let ready = false;
  let tools: readonly Tool[] = [];
  const refresh = () => {
    tools = connections.flatMap((c) => c.tools());
    if (!ready) return;
    for (const listener of listeners) {
      try {
        listener();
      } catch (error) {
        logger.error({ err: error }, "an MCP tool-change listener threw");
      }
    }
  };
  const connections = Object.entries(servers).map(([id, server]) => {
    logger.info({ server: id, ...describeServer(server) }, `starting MCP server "${id}"`);
    return new McpServerConnection(id, server, {
      logger,
      connectTimeoutMs,
      clientInfo: { name: "baton", version: pkg.version },
      onToolsChanged: refresh,
    });
  });
  const started = await Promise.allSettled(connections.map((c) => c.start()));
  const failures = started.flatMap((s) => (s.status === "rejected" ? [(s.reason as Error).message] : []));
  if (failures.length > 0) {
    await Promise.all(connections.map((c) => c.close()));
    throw new Error(failures.join("; "));
  }
  refresh();
  ready = true;
  let closing: Promise<void> | undefined;
  return {
    tools: () => tools,
    onChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
    status: () => Object.fromEntries(connections.map((c) => [c.id, c.status])),
    close() {
      closing ??= Promise.all(connections.map((c) => c.close())).then(() => {
        listeners.clear();
      });
      return closing;
    },
  };
}

/** What may be logged about a server: its transport, command and URL without query or credentials — never args, env or header values. */
function describeServer(server: McpServerConfig): Record<string, unknown> {
  if (transportKind(server) === "stdio") {
    return { transport: "stdio", command: server.command, envKeys: Object.keys(server.env ?? {}) };
  }
  const url = new URL(server.url ?? "");
  return { transport: "http", url: `${url.origin}${url.pathname}`, headerNames: Object.keys(server.headers ?? {}) };
}
