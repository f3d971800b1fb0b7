import { SYNTHESIS_CONSUMER } from "@baton/contracts";
import { AuditTrail } from "@baton/audit";
import {
  AgentRegistry,
  BudgetLedgers,
  ConsumerLoop,
  isFreshDelivery,
  isTaskEnded,
  PerKeyQueue,
  type ServiceContext,
  startService,
  TaskStore,
} from "@baton/core";
import type { JsMsg } from "@nats-io/jetstream";
import { createChatProvider } from "@baton/llm";
import { openMemoryStore } from "@baton/memory";
import type { SynthesizerEnv } from "./config.ts";
import { handleSynthesis } from "./synthesize.ts";

/**
 * Runs the synthesizer: consumes synthesis requests (durable `synthesizer`), writes each
 * task's answer (with the LLM when one is configured), stores its memory summary (MongoDB when MONGODB_URI is set, else JetStream
 * KV) and publishes the outcome. A request for a task that has already ended (a copy a restarted
 * nats-server brought back, a redelivery after a lost ack) is acked without doing anything.
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
  const syntheses = new PerKeyQueue();
  const loop = new ConsumerLoop(
    service.js,
    {
      spec: SYNTHESIS_CONSUMER,
      concurrency: env.SYNTHESIZER_CONCURRENCY,
      template: "synthesis.{taskId}",
      logger: service.logger,
      nc: service.nc,
    },
    // One synthesis per task at a time: two requests of one task can be delivered together (e.g.
    // after a nats-server restart the supervisor's replay of a result republishes the request,
    // the stream's de-duplication window having forgotten the consumed one), and two concurrent
    // syntheses would publish the outcome twice to core subscribers (the stream keeps one). The
    // later one waits, then reads the task's state and finds it ended.
    (msg) =>
      syntheses.run(msg.subject.split(".")[1] ?? msg.subject, async (afterAnother) => {
        if (await ofEndedTask(service, store, msg, afterAnother)) return;
        await handleSynthesis({ service, store, memory, ledgers, llm, agents, audit }, msg);
      }),
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

/**
 * True when the request's task (named by the subject `synthesis.<taskId>`) has already ended
 * (read only for a delivery that may be stale, {@link isFreshDelivery}, or one that waited for
 * another request of its task, `afterAnother`):
 * `completed` is written only after its outcome is published, `failed` after the failure's. The
 * request is then acked as it is (logged). An unreadable or unknown task is left to the handler.
 */
async function ofEndedTask(service: ServiceContext, store: TaskStore, msg: JsMsg, afterAnother: boolean): Promise<boolean> {
  const taskId = msg.subject.split(".")[1];
  // A fresh first delivery is the supervisor's current request (see isFreshDelivery): no read.
  if (!taskId || (!afterAnother && isFreshDelivery(msg, service.nc))) return false;
  const current = await store.get(taskId).catch((error: unknown) => {
    service.logger.warn({ err: error, taskId }, "could not read the task before its synthesis; synthesizing");
    return undefined;
  });
  if (!current || !isTaskEnded(current.state)) return false;
  service.logger.info({ taskId, task: current.state.status, delivery: msg.info.deliveryCount }, "synthesis request of an ended task acked");
  return true;
}
