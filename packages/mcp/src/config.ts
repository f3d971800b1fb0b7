import { RiskTier, ToolDisplay, ToolName } from "@baton/contracts";
import { z } from "zod";

/** Id of one MCP server in a config: 1–32 characters, a lower-case letter first, then `a-z 0-9 -`. */
export const McpServerId = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, "must be 1-32 characters: a lower-case letter, then lower-case letters, digits or '-'");
export type McpServerId = z.infer<typeof McpServerId>;

/**
 * How one allowlisted MCP tool is exposed as a Baton tool. `riskTier` and `idempotent` are
 * required: the operator decides them, nothing is guessed from the server's annotations.
 * - `timeoutMs`: wall-clock limit of one call in ms (1 to 3,600,000); default 30,000.
 * - `name`: the Baton tool name; default the MCP tool's name, which must then be a valid Baton
 *   tool name (1–64 characters of `A-Z a-z 0-9 _ -`).
 * - `description`: replaces the server's description (1–8,000 characters).
 * - `display`: how the output is shown in an answer ({@link ToolDisplay}); default
 *   `{ format: "text", path: "/text" }` for tools without an output schema (their output is
 *   `{ text }`), else chosen by the output's shape.
 */
export const McpToolConfig = z.strictObject({
  riskTier: RiskTier,
  idempotent: z.boolean(),
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
  name: ToolName.optional(),
  description: z.string().min(1).max(8_000).optional(),
  display: ToolDisplay.optional(),
});
export type McpToolConfig = z.infer<typeof McpToolConfig>;

/** Default delays of {@link McpRestartConfig}, in ms. */
export const DEFAULT_RESTART = { initialDelayMs: 500, maxDelayMs: 30_000 } as const;

/**
 * How a server that died is restarted: exponential backoff with jitter from `initialDelayMs`
 * (default 500 ms), doubling up to `maxDelayMs` (default 30,000 ms).
 */
export const McpRestartConfig = z
  .strictObject({
    initialDelayMs: z.number().int().positive().max(3_600_000).default(DEFAULT_RESTART.initialDelayMs),
    maxDelayMs: z.number().int().positive().max(3_600_000).default(DEFAULT_RESTART.maxDelayMs),
  })
  .refine((r) => r.maxDelayMs >= r.initialDelayMs, { message: "maxDelayMs must be at least initialDelayMs", path: ["maxDelayMs"] });
export type McpRestartConfig = z.infer<typeof McpRestartConfig>;

/**
 * One MCP server: a child process spoken to over stdio (`command`, with optional `args`, `env`,
 * `cwd`) or a Streamable HTTP endpoint (`url`, with optional `headers`) — exactly one of
 * `command` and `url`.
 * - `env`: variables for the child on top of a minimal inherited set (HOME, LOGNAME, PATH, SHELL,
 *   TERM, USER); nothing else of the host's environment reaches it. Values are never logged.
 * - `headers`: sent with every HTTP request (e.g. `Authorization`). Values are never logged.
 * - `tools`: the allowlist, by MCP tool name. Only listed tools are exposed; a missing or empty
 *   `tools` exposes nothing.
 */
export const McpServerConfig = z
  .strictObject({
    command: z.string().min(1).optional(),
    args: z.array(z.string()).optional(),
    env: z.record(z.string().min(1), z.string()).optional(),
    cwd: z.string().min(1).optional(),
    url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }).optional(),
    headers: z.record(z.string().min(1), z.string()).optional(),
    restart: McpRestartConfig.default(DEFAULT_RESTART),
    tools: z.record(z.string().min(1).max(256), McpToolConfig).default({}),
  })
  .superRefine((server, ctx) => {
    const stdio = server.command !== undefined;
    const http = server.url !== undefined;
    if (stdio === http) {
      ctx.addIssue({ code: "custom", path: [], message: 'needs exactly one of "command" (stdio) and "url" (Streamable HTTP)' });
    }
    if (http) {
      for (const key of ["args", "env", "cwd"] as const) {
        if (server[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `only applies to a stdio server ("command")` });
      }
    }
    if (stdio && server.headers !== undefined) {
      ctx.addIssue({ code: "custom", path: ["headers"], message: `only applies to an HTTP server ("url")` });
    }
    for (const [mcpName, tool] of Object.entries(server.tools)) {
      if (tool.name === undefined && !ToolName.safeParse(mcpName).success) {
        ctx.addIssue({
          code: "custom",
          path: ["tools", mcpName],
          message: `"${mcpName}" is not a valid Baton tool name (1-64 characters of A-Z, a-z, 0-9, '_' or '-'): set "name"`,
        });
      }
    }
  });
export type McpServerConfig = z.infer<typeof McpServerConfig>;

/** The Baton tool name an allowlisted MCP tool is exposed under. */
export function exposedName(mcpName: string, tool: McpToolConfig): string {
  return tool.name ?? mcpName;
}

/** Every exposed tool name must be unique across all servers. */
function checkUniqueNames(config: { servers: Record<string, McpServerConfig> }, ctx: z.RefinementCtx): void {
  const owners = new Map<string, string>();
  for (const [serverId, server] of Object.entries(config.servers)) {
    for (const [mcpName, tool] of Object.entries(server.tools)) {
      const name = exposedName(mcpName, tool);
      const here = `servers.${serverId}.tools.${mcpName}`;
      const first = owners.get(name);
      if (first !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["servers", serverId, "tools", mcpName],
          message: `tool name "${name}" is exposed twice: by ${first} and by ${here}; give one of them another "name"`,
        });
      } else {
        owners.set(name, here);
      }
    }
  }
}

const Servers = z.record(McpServerId, McpServerConfig);

/**
 * Builds a config schema: `{ servers: { <id>: McpServerConfig } }` plus the given fields (e.g. an
 * agent's `agent` section), strict (unknown keys are errors), with exposed tool names checked
 * unique across servers.
 */
export function mcpServersConfigSchema<const S extends z.ZodRawShape>(extra: S) {
  return z
    .strictObject({ servers: Servers, ...extra })
    .superRefine((config, ctx) => checkUniqueNames(config as { servers: Record<string, McpServerConfig> }, ctx));
}

/** The MCP part of a config: `{ "servers": { "<id>": { … } } }` (see {@link McpServerConfig}). */
export const McpServersConfig = mcpServersConfigSchema({});
export type McpServersConfig = z.infer<typeof McpServersConfig>;
/** A config as written (before defaults), as {@link mcpTools} accepts it. */
export type McpServersConfigInput = z.input<typeof McpServersConfig>;
