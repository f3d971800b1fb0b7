import { SYNTHESIS_CONSUMER } from "@baton/contracts";
import { AuditTrail } from "@baton/audit";
import { AgentRegistry, BudgetLedgers, ConsumerLoop, type ServiceContext, startService, TaskStore } from "@baton/core";
import { createChatProvider } from "@baton/llm";
import { openMemoryStore } from "@baton/memory";
import type { SynthesizerEnv } from "./config.ts";
import { handleSynthesis } from "./synthesize.ts";

/**
 * Runs the synthesizer: consumes synthesis requests (durable `synthesizer`), writes each
 * task's answer (with the LLM when one is configured), stores its memory summary (MongoDB when MONGODB_URI is set, else JetStream
 * KV) and publishes the outcome.
 */
export async function runSynthesizer(env: SynthesizerEnv): Promise<ServiceContext> {
  const service = await startService("synthesizer", env);
  const store = await TaskStore.open(service.nc);
  const memory = await openMemoryStore({ mongodbUri: env.MONGODB_URI, nc: service.nc });
  const ledgers = await BudgetLedgers.open(service.nc);
  const llm = createChatProvider(env, { logger: service.logger });
  const agents = await AgentRegistry.open(service.nc, { logger: service.logger });
  service.onShutdown(async () => agents.close());
  const audit = AuditTrail.forService(service, "synthesizer");
  service.onShutdown(() => audit.flush());
  const loop = new ConsumerLoop(
    service.js,
    { spec: SYNTHESIS_CONSUMER, concurrency: env.SYNTHESIZER_CONCURRENCY, template: "synthesis.{taskId}", logger: service.logger },
    (msg) => handleSynthesis({ service, store, memory, ledgers, llm, agents, audit }, msg),
  );
  loop.start();
  service.onShutdown(() => memory.close());
  service.onShutdown((graceMs) => loop.stop(graceMs));
  service.logger.info(
    {
      memory: env.MONGODB_URI ? "mongodb" : "jetstream-kv",
      llm: llm ? { provider: llm.provider.name, model: llm.models.synthesizer } : "none",
    },
    "synthesizer ready",
  );
  return service;
}
