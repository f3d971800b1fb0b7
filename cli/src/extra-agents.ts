import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { AgentName } from "@baton/contracts";
import { CliError } from "./cli-error.ts";
import { EXIT } from "./exit-codes.ts";
import { repoRoot } from "./repo-root.ts";
import { serviceByName } from "./service-catalog.ts";
import type { ExtraAgent } from "./stack.ts";

/**
 * An agent in a folder of its own (e.g. `examples/agents/geo`, or a checkout of your agent's
 * repository with its dependencies installed): `node <folder>/<main>` with `main` from its
 * package.json (default `src/main.ts`), run in that folder. Its package.json names the agent it
 * runs (`"baton": { "agent": "<name>" }`), so the stack can mint its credentials.
 * @throws CliError (exit 2) when the folder has no package.json or its entry file is missing.
 */
export function agentFromFolder(folder: string): ExtraAgent {
  const dir = resolve(folder);
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest)) throw new CliError(`--agent ${folder}: no package.json in ${dir}`, EXIT.invalid);
  const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { main?: unknown; baton?: { agent?: unknown } };
  const entry = join(dir, typeof pkg.main === "string" ? pkg.main : join("src", "main.ts"));
  if (!existsSync(entry))
    throw new CliError(`--agent ${folder}: its entry ${entry} does not exist (set "main" in its package.json)`, EXIT.invalid);
  if (!existsSync(join(dir, "node_modules"))) {
    throw new CliError(`--agent ${folder}: its dependencies are not installed: run npm install in ${dir} first`, EXIT.invalid);
  }
  const agent = AgentName.safeParse(pkg.baton?.agent);
  return { label: basename(dir), entry, cwd: dir, ...(agent.success ? { role: { kind: "agent", agent: agent.data } } : {}) };
}

/**
 * The configurable MCP agent (`services/mcp-agent`) with `MCP_CONFIG=<config>`: an agent whose
 * tools come from the MCP servers the config file lists (see examples/mcp/).
 * @throws CliError (exit 2) when the file does not exist.
 */
export function mcpAgent(config: string): ExtraAgent {
  const file = resolve(config);
  if (!existsSync(file)) throw new CliError(`--mcp ${config}: no such file`, EXIT.invalid);
  const root = repoRoot();
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(file, "utf8")) as { agent?: { name?: unknown } }).agent?.name;
  } catch (error) {
    throw new CliError(`--mcp ${config}: not JSON: ${(error as Error).message}`, EXIT.invalid);
  }
  const agent = AgentName.safeParse(name);
  if (!agent.success) throw new CliError(`--mcp ${config}: agent.name must be an agent name (a-z first, then a-z, 0-9, -)`, EXIT.invalid);
  return {
    label: `mcp:${basename(file)}`,
    entry: serviceByName("mcp-agent", root).entry,
    cwd: root,
    env: { MCP_CONFIG: file },
    role: { kind: "agent", agent: agent.data },
  };
}

/** The extra agents of `--agent` folders and `--mcp` configs. */
export function extraAgents(flags: { agent?: readonly string[] | undefined; mcp?: readonly string[] | undefined }): ExtraAgent[] {
  return [...(flags.agent ?? []).map(agentFromFolder), ...(flags.mcp ?? []).map(mcpAgent)];
}
