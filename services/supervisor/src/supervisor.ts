import { RESULTS_CONSUMER, SUBMISSIONS_CONSUMER, subjects } from "@baton/contracts";
import { ConsumerLoop, type ServiceContext, startService, TaskStore } from "@baton/core";
import type { SupervisorEnv } from "./config.ts";
import { handleResult } from "./results.ts";
import { handleSubmission } from "./submissions.ts";

/**
 * Runs the supervisor: consumes `tasks.submit` (durable `supervisor-submissions`) and step
 * results (durable `supervisor-results`), keeps task state in KV and dispatches steps.
 * Replicas share both consumers; compare-and-set on task state keeps them consistent.
 */
export async function runSupervisor(env: SupervisorEnv): Promise<ServiceContext> {
  const service = await startService("supervisor", env);
  const store = await TaskStore.open(service.nc);
  const submissions = new ConsumerLoop(
    service.js,
    { spec: SUBMISSIONS_CONSUMER, concurrency: env.SUPERVISOR_CONCURRENCY, template: subjects.submit, logger: service.logger },
    (msg) => handleSubmission(service, env, store, msg),
  );
  const results = new ConsumerLoop(
    service.js,
    { spec: RESULTS_CONSUMER, concurrency: env.SUPERVISOR_CONCURRENCY, template: "results.{taskId}.{stepId}", logger: service.logger },
    (msg) => handleResult(service, store, msg),
  );
  submissions.start();
  results.start();
  service.onShutdown((graceMs) => Promise.all([submissions.stop(graceMs), results.stop(graceMs)]).then(() => undefined));
  return service;
}
