import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AgentName, type Role } from "@baton/contracts";
import { z } from "zod";
import { repoRoot } from "./repo-root.ts";

/** What a service is in the stack; decides its start order and the log line that says it is ready. */
export const ServiceRole = z.enum(["supervisor", "agent", "synthesizer"]);
export type ServiceRole = z.infer<typeof ServiceRole>;

/**
 * The `baton` field of a service's package.json: its role, and whether `baton up` starts it
 * without being asked (`autostart`, default true; false for a service that needs configuration
 * first, such as the MCP agent).
 */
export const ServiceManifest = z.object({
  role: ServiceRole,
  autostart: z.boolean().default(true),
  /** For an agent service: the agent type it runs (its credentials are minted for it). */
  agent: AgentName.optional(),
});
export type ServiceManifest = z.infer<typeof ServiceManifest>;

/** A deployable found under `services/`. */
export interface ServiceEntry {
  /** Its folder name, e.g. `data-agent`. */
  readonly name: string;
  readonly role: ServiceRole;
  readonly autostart: boolean;
  /** Absolute path of its `src/main.ts`. */
  readonly entry: string;
  /** The NATS role it connects as; undefined for an agent service whose agent name comes from its configuration (the MCP agent). */
  readonly natsRole: Role | undefined;
}

/** The log line (pino `msg`) each role prints once it consumes messages. */
export const READY_MESSAGES: Readonly<Record<ServiceRole, string>> = {
  supervisor: "supervisor ready",
  agent: "worker ready",
  synthesizer: "synthesizer ready",
};

const ROLE_ORDER: readonly ServiceRole[] = ["supervisor", "agent", "synthesizer"];

/**
 * Every service under `<root>/services/`: each folder with a `src/main.ts` and a package.json
 * whose `baton` field is a {@link ServiceManifest}. Nothing lists the services by name, so a new
 * agent service is one new folder. Sorted by role (supervisor, agents, synthesizer), then name.
 * @throws Error naming the package.json whose `baton` field is invalid.
 */
export function discoverServices(root: string = repoRoot()): ServiceEntry[] {
  const dir = join(root, "services");
  const found: ServiceEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const entry = join(dir, name, "src", "main.ts");
    const manifestFile = join(dir, name, "package.json");
    if (!existsSync(entry) || !existsSync(manifestFile)) continue;
    const pkg = JSON.parse(readFileSync(manifestFile, "utf8")) as { baton?: unknown };
    if (pkg.baton === undefined) continue;
    const manifest = ServiceManifest.safeParse(pkg.baton);
    if (!manifest.success)
      throw new Error(
        `${manifestFile}: invalid "baton" field: ${manifest.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    const { role, autostart, agent } = manifest.data;
    const natsRole: Role | undefined = role === "agent" ? (agent ? { kind: "agent", agent } : undefined) : { kind: role };
    found.push({ name, role, autostart, entry, natsRole });
  }
  return found.sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.name.localeCompare(b.name));
}

/** The services `baton up` starts by default: every discovered service with `autostart`. */
export function defaultServices(root?: string): ServiceEntry[] {
  return discoverServices(root).filter((s) => s.autostart);
}

/**
 * The discovered service called `name`.
 * @throws Error listing the services there are when none is called so.
 */
export function serviceByName(name: string, root?: string): ServiceEntry {
  const all = discoverServices(root);
  const found = all.find((s) => s.name === name);
  if (!found) throw new Error(`no service "${name}" under services/; there are: ${all.map((s) => s.name).join(", ")}`);
  return found;
}
