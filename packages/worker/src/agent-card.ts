import { type AgentCard, type AgentName, KV_BUCKETS } from "@baton/contracts";
import { openKv, type ServiceContext } from "@baton/core";
import type { ToolRegistry } from "@baton/tools";

/**
 * Publishes the agent's tool set (names, model-facing descriptions, JSON Schemas) to the KV
 * bucket `baton_agents`, where the planner reads it. Every replica writes the same card.
 */
export async function publishAgentCard(service: ServiceContext, agent: AgentName, registry: ToolRegistry, llm: boolean): Promise<void> {
  const kv = await openKv(service.nc, KV_BUCKETS.agents);
  const card: AgentCard = { schemaVersion: 1, agent, tools: registry.describe(), llm, updatedAt: new Date().toISOString() };
  await kv.put(agent, JSON.stringify(card));
}
