import { type AgentCard, KV_BUCKETS, type ToolCard } from "@baton/contracts";
import { openKv } from "@baton/core";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Registers an agent type by putting its card in `baton_agents`, as a replica would, without
 * running one: the agent is then registered with no live replica (its steps wait in BATON_WORK).
 * Tools default to `read`, idempotent, 10 s; the card to `llm: false`.
 */
export async function registerAgentCard(
  nc: NatsConnection,
  card: { agent: string; llm?: boolean; tools: (Pick<ToolCard, "name" | "inputSchema"> & Partial<ToolCard>)[] },
): Promise<AgentCard> {
  const full: AgentCard = {
    schemaVersion: 1,
    agent: card.agent,
    version: "0.0.0-test",
    description: `Test registration of the ${card.agent} agent.`,
    llm: card.llm ?? false,
    updatedAt: new Date().toISOString(),
    tools: card.tools.map((t) => ({ description: `${t.name} (test)`, riskTier: "read", idempotent: true, timeoutMs: 10_000, ...t })),
  };
  const kv = await openKv(nc, KV_BUCKETS.agents);
  await kv.put(card.agent, JSON.stringify(full));
  return full;
}
