import { RESULTS_CONSUMER, SUBMISSIONS_CONSUMER, subjects } from "@baton/contracts";
import { BudgetLedgers, ConsumerLoop, type ServiceContext, startService, TaskStore } from "@baton/core";
import { createLlmSetup } from "@baton/llm";
import { openMemoryStore } from "@baton/memory";
import type { SupervisorEnv } from "./config.ts";
import { startDeadLetterHandler } from "./dead-letters/index.ts";
import { handleResult } from "./results.ts";
import { handleSubmission } from "./submissions.ts";

/**
 * Runs the supervisor: consumes `tasks.submit` (durable `supervisor-submissions`) and step
 * results (durable `supervisor-results`), plans goals with the LLM when one is configured,
 * keeps task state and budgets in KV and dispatches steps. Replicas share both consumers;
 * compare-and-set on task state keeps them consistent.
 */
export async function runSupervisor(env: SupervisorEnv): Promise<ServiceContext> {
  const service = await startService("supervisor", env);
  const store = await TaskStore.open(service.nc);
  const ledgers = await BudgetLedgers.open(service.nc);
  const memory = await openMemoryStore({ mongodbUri: env.MONGODB_URI, nc: service.nc });
  const llm = createLlmSetup(env, { logger: service.logger });
  const deps = { service, env, store, ledgers, memory, llm };
  const submissions = new ConsumerLoop(
    service.js,
    { spec: SUBMISSIONS_CONSUMER, concurrency: env.SUPERVISOR_CONCURRENCY, template: subjects.submit, logger: service.logger },
    (msg) => handleSubmission(deps, msg),
  );
  const results = new ConsumerLoop(
    service.js,
    { spec: RESULTS_CONSUMER, concurrency: env.SUPERVISOR_CONCURRENCY, template: "results.{taskId}.{stepId}", logger: service.logger },
    (msg) => handleResult(service, store, ledgers, msg),
  );
  submissions.start();
  results.start();
  service.onShutdown(() => memory.close());
  service.onShutdown((graceMs) => Promise.all([submissions.stop(graceMs), results.stop(graceMs)]).then(() => undefined));
  // Dead letters: messages a consumer gave up on (max_deliver) move to BATON_DLQ and are reported.
  const deadLetters = await startDeadLetterHandler(service);
  service.onShutdown((graceMs) => deadLetters.stop(graceMs));
  service.logger.info({ llm: llm ? { provider: llm.provider.name, models: llm.models } : "none" }, "supervisor ready");
  return service;
}
