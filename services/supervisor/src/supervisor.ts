import { APPROVALS_CONSUMER, CANCEL_CONSUMER, RESULTS_CONSUMER, SUBMISSIONS_CONSUMER, subjects } from "@baton/contracts";
import { AuditEnv, AuditTrail, startAuditChainer } from "@baton/audit";
import { AgentRegistry, BudgetLedgers, ConsumerLoop, loadConfig, type ServiceContext, startService, TaskStore } from "@baton/core";
import { createChatProvider } from "@baton/llm";
import { openMemoryStore } from "@baton/memory";
import type { SupervisorEnv } from "./config.ts";
import { startDeadLetterHandler } from "./dead-letters/index.ts";
import { ApprovalBook } from "./approvals/book.ts";
import { handleDecisionMessage } from "./approvals/decisions.ts";
import { ApprovalExpiry } from "./approvals/expiry.ts";
import { DeadlineWatch, endTask, handleCancel } from "./control.ts";
import { TaskEffects } from "./effects.ts";
import { DispatchWatchdog } from "./dispatch-watchdog.ts";
import { handleResult } from "./results.ts";
import { handleSubmission } from "./submissions.ts";
import { SchemaCache } from "./agents/check-plan.ts";
import { failSynthesis } from "./task-machine.ts";

/**
 * Runs the supervisor: consumes `tasks.submit` (durable `supervisor-submissions`), checks plans
 * against the registered agent cards (`baton_agents`), consumes step
 * results (durable `supervisor-results`) and `tasks.cancel` (durable `supervisor-cancellations`),
 * holds steps whose tool calls need approval (APPROVAL_POLICY_JSON) until a decision on
 * `approvals.decisions.<id>` (durable `supervisor-approvals`) or their expiry (APPROVAL_TIMEOUT_MS),
 * enforces task deadlines, plans goals with the LLM when one is configured,
 * keeps task state and budgets in KV and dispatches steps. Replicas share both consumers;
 * compare-and-set on task state keeps them consistent.
 */
export async function runSupervisor(env: SupervisorEnv): Promise<ServiceContext> {
  const auditEnv = loadConfig(AuditEnv);
  const service = await startService("supervisor", env, { provision: "create" });
  const store = await TaskStore.open(service.nc);
  const ledgers = await BudgetLedgers.open(service.nc);
  const memory = await openMemoryStore({ mongodbUri: env.MONGODB_URI, nc: service.nc });
  const llm = createChatProvider(env, { logger: service.logger });
  const agents = await AgentRegistry.open(service.nc, { logger: service.logger });
  service.onShutdown(async () => agents.close());
  const audit = AuditTrail.forService(service, "supervisor");
  service.onShutdown(() => audit.flush());
  const effects = new TaskEffects(service.js, await ApprovalBook.open(service, audit), audit, agents);
  const ctl = { service, store, effects };
  const watchdog = new DispatchWatchdog(service, store, effects, env.DISPATCH_STALE_MS);
  const deadlines = new DeadlineWatch(ctl, { watchdog, sweepMs: Math.max(500, Math.floor(env.DISPATCH_STALE_MS / 2)) });
  const schemas = new SchemaCache((tool, error) =>
    service.logger.warn({ err: error, tool }, "a tool's input schema does not compile; its arguments are checked by the worker only"),
  );
  const deps = { service, env, store, ledgers, memory, llm, deadlines, agents, schemas, effects, approvalPolicy: env.APPROVAL_POLICY_JSON };
  const submissions = new ConsumerLoop(
    service.js,
    { spec: SUBMISSIONS_CONSUMER, concurrency: env.SUPERVISOR_CONCURRENCY, template: subjects.submit, logger: service.logger },
    (msg) => handleSubmission(deps, msg),
  );
  const results = new ConsumerLoop(
    service.js,
    {
      spec: RESULTS_CONSUMER,
      concurrency: env.SUPERVISOR_CONCURRENCY,
      template: "results.{agent}.{taskId}.{stepId}",
      logger: service.logger,
    },
    (msg) => handleResult(service, store, ledgers, msg, effects, deadlines),
  );
  const cancellations = new ConsumerLoop(
    service.js,
    { spec: CANCEL_CONSUMER, concurrency: 2, template: subjects.cancel, logger: service.logger },
    (msg) => handleCancel(ctl, msg),
  );
  const decisions = new ConsumerLoop(
    service.js,
    { spec: APPROVALS_CONSUMER, concurrency: 2, template: "approvals.decisions.{approvalId}", logger: service.logger },
    (msg) => handleDecisionMessage({ ...ctl, deadlines }, msg),
  );
  await deadlines.armAll();
  service.onShutdown(async () => deadlines.stop());
  // Open approvals expire (a denial) at their expiresAt; re-armed from baton_approvals at start.
  const expiry = await ApprovalExpiry.start({ ...ctl, deadlines });
  service.onShutdown(async () => expiry.stop());
  submissions.start();
  results.start();
  cancellations.start();
  decisions.start();
  service.onShutdown(() => memory.close());
  service.onShutdown((graceMs) =>
    Promise.all([submissions.stop(graceMs), results.stop(graceMs), cancellations.stop(graceMs), decisions.stop(graceMs)]).then(
      () => undefined,
    ),
  );
  // Dead letters: messages a consumer gave up on (max_deliver) move to BATON_DLQ and are reported.
  const deadLetters = await startDeadLetterHandler(service, {
    audit,
    failSynthesis: async (taskId, error, log) => {
      await endTask(ctl, taskId, (state, now) => failSynthesis(state, error, now), log);
    },
  });
  service.onShutdown((graceMs) => deadLetters.stop(graceMs));
  // Audit ledger: chains the entries producers publish on audit.in.> into BATON_AUDIT (AUDIT_MAX_AGE_DAYS).
  const auditChainer = await startAuditChainer(service, { maxAgeDays: auditEnv.AUDIT_MAX_AGE_DAYS });
  service.onShutdown((graceMs) => auditChainer.stop(graceMs));
  service.logger.info({ llm: llm ? { provider: llm.provider.name, models: llm.models } : "none" }, "supervisor ready");
  return service;
}
