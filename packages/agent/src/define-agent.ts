import { AgentName } from "@baton/contracts";
import type { Logger } from "@baton/core";
import type { Tool, ToolProvider } from "@baton/tools";
import { z } from "zod";
import type { WorkerEnv } from "./config.ts";

export type { ToolProvider } from "@baton/tools";

/** One entry of an agent's tool set: a tool, or a provider of several (e.g. `mcpTools`). */
export type AgentToolEntry = Tool | ToolProvider;

/** What an agent's `tools` function returns: the entries, and optionally what to release on shutdown. */
export type AgentTools = readonly AgentToolEntry[] | { readonly tools: readonly AgentToolEntry[]; close?(): Promise<void> | void };

/** What an agent's `tools` function receives besides the environment. */
export interface AgentSetupContext {
  /** The replica's logger (pino): `service`, `instance` and, per step, `taskId` and `stepId`. */
  readonly logger: Logger;
}

/** The environment an agent's tools are built from: the worker settings plus the agent's own `env`. */
export type AgentEnv<E extends z.ZodObject> = WorkerEnv & z.output<E>;

/** An agent type, as {@link defineAgent} takes it. */
export interface AgentDefinition<E extends z.ZodObject = z.ZodObject<{}>> {
  /** The agent type's name ({@link AgentName}): 1–32 characters, `a-z` first, then `a-z 0-9 -`. */
  readonly name: string;
  /** The agent's own version, shown in its card and replica records, e.g. `1.0.0`. */
  readonly version: string;
  /** Written for a planner: what the agent is for, what it can and cannot do (1–4,000 characters). */
  readonly description: string;
  /** The agent's own environment variables, parsed at start together with the worker's ({@link WorkerEnv}). */
  readonly env?: E;
  /**
   * The tools (least privilege: only what this agent needs), or a function that builds them once
   * at start from the parsed environment (load a corpus, open a database, start MCP servers).
   */
  readonly tools: readonly AgentToolEntry[] | ((env: AgentEnv<E>, ctx: AgentSetupContext) => Promise<AgentTools> | AgentTools);
}

const AgentShape = z.object({
  name: AgentName,
  version: z.string().min(1).max(64),
  description: z.string().min(1).max(4_000),
});

/**
 * Defines an agent type. Checks the name, version and description at once, so a typo fails at
 * definition rather than on the bus.
 * @throws RangeError naming the field that is invalid.
 */
export function defineAgent<E extends z.ZodObject = z.ZodObject<{}>>(definition: AgentDefinition<E>): AgentDefinition<E> {
  const checked = AgentShape.safeParse(definition);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new RangeError(`invalid agent definition: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return definition;
}
