import { RESULTS_STREAM, SYNTHESIS_STREAM, subjects, WORK_STREAM } from "@baton/contracts";
import { contextFromCarrier, outcomeStored, type ServiceContext, type TaskStore } from "@baton/core";
import { context } from "@opentelemetry/api";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { TaskEffects } from "./effects.ts";
import { pendingEffects, redispatchStep } from "./task-machine.ts";

/**
 * Finds work the bus lost and sends it again. nats-server 2.9 acks a JetStream publish before
 * the message reaches the disk (there is no `sync_interval: always` before 2.10), so a SIGKILLed
 * server can drop a work item, a result or a synthesis request that its publisher saw acked — the
 * task would then wait for its deadline. For each tracked running task, a step dispatched more
 * than `staleMs` ago with neither its work message in BATON_WORK nor a result in BATON_RESULTS is
 * dispatched again as a new attempt (compare-and-set; the effect ledger keeps non-idempotent tools
 * at most once); a task synthesizing for that long with no request in BATON_SYNTHESIS and no
 * outcome gets its request published again. Its publishes join the task's trace (the
 * `traceparent` kept in task state).
 */
export class DispatchWatchdog {
  readonly #service: ServiceContext;
  readonly #store: TaskStore;
  readonly #staleMs: number;
  readonly #effects: TaskEffects;
  #jsm: JetStreamManager | undefined;

  constructor(service: ServiceContext, store: TaskStore, effects: TaskEffects, staleMs: number) {
    this.#service = service;
    this.#store = store;
    this.#effects = effects;
    this.#staleMs = staleMs;
  }

  /** Checks one task; returns false once the task no longer needs watching (ended). */
  async check(taskId: string): Promise<boolean> {
    const current = await this.#store.get(taskId);
    if (!current) return false;
    const { state } = current;
    if (state.status !== "running" && state.status !== "synthesizing") return false;
    const now = Date.now();
    this.#jsm ??= await this.#service.js.jetstreamManager(false);
    const jsm = this.#jsm;
    const log = this.#service.logger.child({ taskId });
    if (state.status === "synthesizing") {
      const since = Date.parse(state.steps[state.plan.steps.at(-1)?.id ?? ""]?.outcome?.finishedAt ?? state.acceptedAt);
      if (now - since < this.#staleMs) return true;
      const request = await jsm.streams.getMessage(SYNTHESIS_STREAM.name, { last_by_subj: subjects.synthesis(taskId) });
      if (!request && !(await outcomeStored(this.#service.js, taskId))) {
        log.warn("synthesis request lost by the bus: publishing it again");
        await context.with(contextFromCarrier(state), () => this.#effects.apply(pendingEffects(state), log, { replay: true }));
      }
      return true;
    }
    for (const step of state.plan.steps) {
      const s = state.steps[step.id];
      if (s?.status !== "dispatched" || !s.dispatchedAt || now - Date.parse(s.dispatchedAt) < this.#staleMs) continue;
      const [work, result] = await Promise.all([
        jsm.streams.getMessage(WORK_STREAM.name, { last_by_subj: subjects.work(step.agent, taskId, step.id) }),
        jsm.streams.getMessage(RESULTS_STREAM.name, { last_by_subj: subjects.result(step.agent, taskId, step.id) }),
      ]);
      if (work || result) continue; // queued, in flight, or its result is on the way
      const transition = await this.#store.update(taskId, (latest) => redispatchStep(latest, step.id, s.attempt, new Date()));
      if (transition) {
        log.warn({ stepId: step.id, attempt: s.attempt + 1 }, "work or result lost by the bus: step dispatched again");
        await context.with(contextFromCarrier(state), () => this.#effects.apply(transition, log));
      }
    }
    return true;
  }
}
