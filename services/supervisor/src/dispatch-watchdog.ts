import { RESULTS_STREAM, SYNTHESIS_STREAM, subjects, type TaskState, WORK_STREAM } from "@baton/contracts";
import {
  connectionWatch,
  contextFromCarrier,
  isTaskEnded,
  outcomeStored,
  RECONNECT_SETTLE_MS,
  retryWhileUnavailable,
  type ServiceContext,
  type TaskStore,
} from "@baton/core";
import { context } from "@opentelemetry/api";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { TaskEffects } from "./effects.ts";
import { pendingEffects, redispatchStep } from "./task-machine.ts";

/** Options of {@link DispatchWatchdog}. */
export interface DispatchWatchdogOptions {
  /**
   * Period of the sweep of BATON_WORK and BATON_SYNTHESIS for messages of ended tasks, in ms;
   * default max(10,000, 2 × staleMs). 0 turns it off.
   */
  readonly leftoverSweepMs?: number;
}

/** What one leftover sweep removed. */
export interface LeftoverSweep {
  /** Work messages of ended tasks deleted from BATON_WORK. */
  readonly work: number;
  /** Synthesis requests of ended tasks deleted from BATON_SYNTHESIS. */
  readonly synthesis: number;
}

/** At most this many messages are deleted under one subject per pass (a guard, not a limit in practice). */
const MAX_DELETES_PER_SUBJECT = 20;

/**
 * Finds work the bus lost and sends it again, and removes what the bus kept too long.
 *
 * Lost: nats-server 2.9 acks a JetStream publish before the message reaches the disk (there is no
 * `sync_interval: always` before 2.10), so a SIGKILLed server can drop a work item, a result or a
 * synthesis request that its publisher saw acked — the task would then wait for its deadline. For
 * each tracked running task, a step dispatched more than `staleMs` ago with neither its work
 * message in BATON_WORK nor a result in BATON_RESULTS is dispatched again as a new attempt
 * (compare-and-set; the effect ledger keeps non-idempotent tools at most once); a task
 * synthesizing for that long with no request in BATON_SYNTHESIS and no outcome gets its request
 * published again. Its publishes join the task's trace (the `traceparent` kept in task state).
 *
 * Kept: a SIGKILLed nats-server 2.9 can also bring back work-queue messages that were acked
 * (their removal was not on disk, the consumer's ack floor was): they are never delivered again
 * and would stay forever. When a tracked task has ended (if this connection reconnected since the
 * task began), and every `leftoverSweepMs` for every task with messages in the work queues, the
 * messages of ended tasks (`completed` / `failed`)
 * are deleted by sequence from BATON_WORK and BATON_SYNTHESIS (the supervisor may delete single
 * messages there; it may not purge). Workers and the synthesizer also ack, without running it,
 * whatever they receive for an ended task.
 */
export class DispatchWatchdog {
  readonly #service: ServiceContext;
  readonly #store: TaskStore;
  readonly #staleMs: number;
  readonly #effects: TaskEffects;
  #jsm: JetStreamManager | undefined;
  #sweeping: Promise<LeftoverSweep> | undefined;

  constructor(service: ServiceContext, store: TaskStore, effects: TaskEffects, staleMs: number, options: DispatchWatchdogOptions = {}) {
    this.#service = service;
    this.#store = store;
    this.#effects = effects;
    this.#staleMs = staleMs;
    const sweepMs = options.leftoverSweepMs ?? Math.max(10_000, 2 * staleMs);
    if (sweepMs > 0) {
      const timer = setInterval(() => {
        this.sweepLeftovers().catch((error: unknown) => service.logger.warn({ err: error }, "leftover sweep failed; next one later"));
      }, sweepMs);
      timer.unref();
      service.onShutdown(async () => clearInterval(timer));
    }
  }

  /** Checks one task; returns false once the task no longer needs watching (ended, its leftovers removed). */
  async check(taskId: string): Promise<boolean> {
    const current = await this.#store.get(taskId);
    if (!current) return false;
    const { state } = current;
    const log = this.#service.logger.child({ taskId });
    if (isTaskEnded(state)) {
      // Leftovers come back only with a restarted nats-server, which this connection saw as a
      // reconnect: otherwise there is nothing to look for (and the periodic sweep still runs).
      if (connectionWatch(this.#service.nc).msSinceReconnect() <= Date.now() - Date.parse(state.acceptedAt) + RECONNECT_SETTLE_MS) {
        await this.#removeLeftovers(state, log);
      }
      return false;
    }
    if (state.status !== "running" && state.status !== "synthesizing") return false;
    const now = Date.now();
    const jsm = await this.#manager();
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

  /**
   * Deletes the messages of ended tasks from BATON_WORK and BATON_SYNTHESIS: one stream-info
   * request per stream lists the subjects holding messages, each task named there is read once.
   * One sweep at a time (a call during another waits for it). @returns what was deleted.
   */
  async sweepLeftovers(): Promise<LeftoverSweep> {
    this.#sweeping ??= this.#sweep().finally(() => {
      this.#sweeping = undefined;
    });
    return this.#sweeping;
  }

  async #sweep(): Promise<LeftoverSweep> {
    const jsm = await this.#manager();
    const ended = new Map<string, boolean>();
    const isEnded = async (taskId: string) => {
      let known = ended.get(taskId);
      if (known === undefined) {
        const current = await this.#store.get(taskId);
        known = current !== undefined && isTaskEnded(current.state);
        ended.set(taskId, known);
      }
      return known;
    };
    const removed = { work: 0, synthesis: 0 };
    for (const [stream, taskToken, kind] of [
      [WORK_STREAM.name, 2, "work"],
      [SYNTHESIS_STREAM.name, 1, "synthesis"],
    ] as const) {
      const info = await jsm.streams.info(stream, { subjects_filter: ">" });
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const taskId = subject.split(".")[taskToken];
        if (!taskId || !(await isEnded(taskId))) continue;
        removed[kind] += await this.#deleteAll(jsm, stream, subject, this.#service.logger.child({ taskId }));
      }
    }
    if (removed.work + removed.synthesis > 0) this.#service.logger.info(removed, "messages of ended tasks removed from the work queues");
    return removed;
  }

  /** Deletes the work and synthesis messages still held for an ended task. */
  async #removeLeftovers(state: TaskState, log: Logger): Promise<void> {
    const jsm = await this.#manager();
    let removed = 0;
    const agents = new Map(state.plan.steps.map((s) => [s.id, s.agent]));
    for (const [stepId, agent] of agents)
      removed += await this.#deleteAll(jsm, WORK_STREAM.name, subjects.work(agent, state.taskId, stepId), log);
    removed += await this.#deleteAll(jsm, SYNTHESIS_STREAM.name, subjects.synthesis(state.taskId), log);
    if (removed > 0) log.info({ removed, task: state.status }, "messages of the ended task removed from the work queues");
  }

  /** Deletes every message under `subject` in `stream` (last first), retried while the broker is away. @returns how many. */
  async #deleteAll(jsm: JetStreamManager, stream: string, subject: string, log: Logger): Promise<number> {
    let removed = 0;
    for (let i = 0; i < MAX_DELETES_PER_SUBJECT; i++) {
      const msg = await retryWhileUnavailable(() => jsm.streams.getMessage(stream, { last_by_subj: subject }), {
        what: `read ${subject} in ${stream}`,
        forMs: 5_000,
        nc: this.#service.nc,
      });
      if (!msg) break;
      // Another replica (or the message's consumer) may have removed it meanwhile: fine either way.
      const deleted = await retryWhileUnavailable(() => jsm.streams.deleteMessage(stream, msg.seq, false), {
        what: `delete ${stream} #${msg.seq}`,
        forMs: 5_000,
        nc: this.#service.nc,
      }).catch((error: unknown) => {
        if (/no message found|not found/i.test(String(error))) return false;
        throw error;
      });
      if (deleted) {
        removed++;
        log.debug({ stream, seq: msg.seq, subject }, "message of an ended task deleted");
      }
    }
    return removed;
  }

  async #manager(): Promise<JetStreamManager> {
    this.#jsm ??= await this.#service.js.jetstreamManager(false);
    return this.#jsm;
  }
}
