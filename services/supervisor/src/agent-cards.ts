import { AgentCard, KV_BUCKETS } from "@baton/contracts";
import { openKv, type ServiceContext } from "@baton/core";

/**
 * The tool sets the worker services published in the KV bucket `baton_agents` (one card per
 * agent type). Invalid cards are skipped with a warning. Empty before any worker started.
 */
export async function readAgentCards(service: ServiceContext): Promise<AgentCard[]> {
  const kv = await openKv(service.nc, KV_BUCKETS.agents);
  const cards: AgentCard[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") continue;
    const parsed = AgentCard.safeParse(entry.json());
    if (parsed.success) cards.push(parsed.data);
    else service.logger.warn({ agent: key }, "invalid agent card skipped");
  }
  return cards.sort((a, b) => a.agent.localeCompare(b.agent));
}
