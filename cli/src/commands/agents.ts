import { AgentName, KV_BUCKETS } from "@baton/contracts";
import { AgentRegistry, openKv, type RegisteredAgent } from "@baton/core";
import { CliError } from "../cli-error.ts";
import { openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { oneLine } from "../format.ts";
import { operatorTrail } from "../operator.ts";
import type { CommandContext } from "./context.ts";

async function withRegistry<T>(ctx: CommandContext, use: (registry: AgentRegistry) => Promise<T> | T): Promise<T> {
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
  try {
    const registry = await AgentRegistry.open(conn.nc);
    try {
      return await use(registry);
    } finally {
      registry.close();
    }
  } finally {
    await conn.close();
  }
}

function summary(a: RegisteredAgent) {
  return {
    agent: a.card.agent,
    version: a.card.version,
    llm: a.card.llm,
    tools: a.card.tools.map((t) => t.name),
    replicas: a.replicas.length,
    description: a.card.description,
  };
}

/**
 * `baton agents`: one line per registered agent type (from the cards in `baton_agents`): name,
 * version, live replicas, whether it runs an LLM loop, its tools. With --json, one object per line.
 * @returns 0.
 */
export async function agentsListCommand(ctx: CommandContext): Promise<ExitCode> {
  const agents = await withRegistry(ctx, (r) => r.agents());
  const { output } = ctx;
  if (output.json) {
    for (const a of agents) output.jsonLine({ kind: "agent", ...summary(a) });
    return EXIT.ok;
  }
  if (agents.length === 0) output.out("No agent is registered yet: start a worker (baton up, or runAgent from @baton/agent).");
  const width = Math.max(5, ...agents.map((a) => a.card.agent.length));
  for (const a of agents) {
    const s = summary(a);
    output.out(
      `${s.agent.padEnd(width)}  v${s.version.padEnd(8)} ${String(s.replicas).padStart(2)} live replica${s.replicas === 1 ? " " : "s"}  ${s.llm ? "llm " : "    "} ${s.tools.join(", ")}`,
    );
  }
  return EXIT.ok;
}

/**
 * `baton agents show <name>`: the agent's card (description, each tool with its risk tier,
 * idempotency, timeout and input schema) and its live replicas.
 * @returns 0, or 3 when no such agent is registered.
 */
export async function agentsShowCommand(ctx: CommandContext, name: string): Promise<ExitCode> {
  const agent = await withRegistry(ctx, (r) => r.lookup(name));
  const { output } = ctx;
  if (!agent) {
    const names = await withRegistry(ctx, (r) => r.names());
    throw new CliError(`no agent "${name}" is registered; registered agents: ${names.join(", ") || "(none)"}`, EXIT.notFound);
  }
  if (output.json) {
    output.jsonLine({ kind: "agent", card: agent.card, replicas: agent.replicas });
    return EXIT.ok;
  }
  const { card } = agent;
  output.out(`${card.agent} v${card.version}${card.llm ? " (runs an LLM tool loop)" : ""} — card updated ${card.updatedAt}`);
  output.out(`  ${card.description}`);
  output.out(`tools:`);
  for (const t of card.tools) {
    output.out(`  ${t.name}  [${t.riskTier}${t.idempotent ? ", idempotent" : ""}, ${t.timeoutMs} ms]  ${oneLine(t.description, 120)}`);
    output.out(`    input: ${oneLine(JSON.stringify(t.inputSchema), 200)}`);
  }
  output.out(`live replicas: ${agent.replicas.length}`);
  for (const r of agent.replicas) {
    output.out(
      `  ${r.instanceId}  v${r.version}  ${r.inFlight}/${r.concurrency} steps  heartbeat ${r.heartbeatAt}${r.host ? `  ${r.host}` : ""}`,
    );
  }
  return EXIT.ok;
}

/**
 * `baton agents remove <name> --yes`: deletes the agent's card, so plans naming it are rejected
 * again (its running replicas put it back on their next heartbeat: stop them first).
 * @returns 0, or 3 when no such agent is registered.
 * @throws CliError (exit 2) without --yes or for an invalid name.
 */
export async function agentsRemoveCommand(ctx: CommandContext, name: string, flags: { yes?: boolean }): Promise<ExitCode> {
  if (!AgentName.safeParse(name).success) throw new CliError(`"${name}" is not an agent name`, EXIT.invalid);
  if (!flags.yes) throw new CliError(`removing the agent "${name}" needs --yes`, EXIT.invalid);
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("operator"));
  try {
    const kv = await openKv(conn.nc, KV_BUCKETS.agents);
    const entry = await kv.get(name);
    if (!entry || entry.operation !== "PUT") throw new CliError(`no agent "${name}" is registered`, EXIT.notFound);
    await kv.delete(name);
    await operatorTrail(conn).publish({ kind: "agent_removed", agent: name, details: {} });
    if (ctx.output.json) ctx.output.jsonLine({ kind: "agent_removed", agent: name });
    else ctx.output.out(`agent ${name} removed (a replica still running registers it again within 5 s)`);
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
