import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { McpServersConfig } from "./config.ts";
import { MissingVariableError, substituteEnv } from "./substitute-env.ts";

/** A config file that cannot be used: unreadable, not JSON, an unset `${VAR}`, or a field that fails the schema. */
export class McpConfigError extends Error {
  override readonly name = "McpConfigError";
  readonly code = "CONFIG_INVALID" as const;
}

/** Options of {@link loadMcpConfig}. */
export interface LoadMcpConfigOptions<S extends z.ZodType> {
  /** Where `${VAR}` values come from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** The schema to check against; default {@link McpServersConfig} (pass an extended one, e.g. an agent's). */
  readonly schema?: S;
}

/**
 * Reads a JSON config file, replaces `${VAR}` in every string with the environment's value (so
 * secrets stay out of the file; `$${` is a literal `${`), and checks it against the schema.
 * @returns the parsed config, with defaults applied.
 * @throws McpConfigError naming the file and the problem: the file cannot be read, is not JSON,
 *   uses a variable that is not set (naming the variable and the field), or has fields that fail
 *   the schema (one line per field, with its dotted path, e.g. `servers.fs.tools.read_file.riskTier`).
 */
export async function loadMcpConfig<S extends z.ZodType = typeof McpServersConfig>(
  path: string,
  options: LoadMcpConfigOptions<S> = {},
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new McpConfigError(`MCP config ${path}: cannot read it: ${(error as Error).message}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new McpConfigError(`MCP config ${path}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseMcpConfig(json, { ...options, source: path });
}

/**
 * {@link loadMcpConfig} for a value already read: substitutes `${VAR}` and checks the schema.
 * `source` names the config in error messages (default `MCP config`).
 * @throws McpConfigError as {@link loadMcpConfig} does.
 */
export function parseMcpConfig<S extends z.ZodType = typeof McpServersConfig>(
  json: unknown,
  options: LoadMcpConfigOptions<S> & { readonly source?: string } = {},
): z.output<S> {
  const source = options.source === undefined ? "MCP config" : `MCP config ${options.source}`;
  let substituted: unknown;
  try {
    substituted = substituteEnv(json, options.env ?? process.env);
  } catch (error) {
    if (error instanceof MissingVariableError) throw new McpConfigError(`${source}: ${error.message}`, { cause: error });
    throw error;
  }
  return checkMcpConfig(substituted, (options.schema ?? McpServersConfig) as S, source);
}

/**
 * Checks a config value against a schema (no `${VAR}` substitution).
 * @throws McpConfigError listing every failing field with its dotted path, under `source`.
 */
export function checkMcpConfig<S extends z.ZodType>(value: unknown, schema: S, source = "MCP config"): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((issue) => `  ${issue.path.map(String).join(".") || "(root)"}: ${messageOf(issue)}`);
  throw new McpConfigError(`invalid ${source}:\n${lines.join("\n")}`);
}

/** An issue's message; for an invalid record key (a server id), the key's own problem. */
function messageOf(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_key") return `invalid key: ${issue.issues.map((i) => i.message).join("; ")}`;
  return issue.message;
}
