import { readFileSync } from "node:fs";
import {
  type DeadLetterRecord,
  DLQ_STREAM,
  EVENTS_STREAM,
  KV_BUCKETS,
  OUTCOMES_STREAM,
  readDeadLetterHeaders,
  subjects,
  TaskCompleted,
  TaskFailed,
} from "@baton/contracts";
import { openKv, sleep } from "@baton/core";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** An outcome message: `tasks.completed.<taskId>` or `tasks.failed.<taskId>`. */
export type Outcome = { status: "completed"; value: TaskCompleted } | { status: "failed"; value: TaskFailed };

/**
 * The test's client: submits tasks (retried until the stream acks, so it survives a server
 * restart) and counts every outcome message per taskId on a core NATS subscription opened
 * before the first submission — a second outcome for a task shows up here even when the
 * stream drops it as a duplicate.
 */
export class ChaosClient {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Outcome messages seen on the core subscription, by taskId, in arrival order. */
  readonly core = new Map<string, Outcome[]>();
  /** Outcome messages that did not parse (a contract violation), with their subject. */
  readonly invalid: string[] = [];
  readonly #subs: Subscription[];
  readonly #outcomeHooks = new Map<string, (outcome: Outcome) => void>();
  readonly #eventWaiters = new Set<{ predicate: (e: EventRecord) => boolean; resolve: (e: EventRecord | undefined) => void }>();

  private constructor(nc: NatsConnection, jsm: JetStreamManager) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.jsm = jsm;
    const record = (status: "completed" | "failed") => (_err: unknown, msg: { subject: string; json(): unknown }) => {
      const taskId = msg.subject.split(".")[2] ?? "";
      const parsed = status === "completed" ? TaskCompleted.safeParse(msg.json()) : TaskFailed.safeParse(msg.json());
      if (!parsed.success) {
        this.invalid.push(msg.subject);
        return;
      }
      const list = this.core.get(taskId) ?? [];
      const outcome = { status, value: parsed.data } as Outcome;
      list.push(outcome);
      this.core.set(taskId, list);
      const hook = this.#outcomeHooks.get(taskId);
      this.#outcomeHooks.delete(taskId);
      hook?.(outcome);
    };
    this.#subs = [
      nc.subscribe(subjects.completedAll, { callback: record("completed") }),
      nc.subscribe(subjects.failedAll, { callback: record("failed") }),
      nc.subscribe(subjects.eventsAll, {
        callback: (_err, msg) => {
          if (this.#eventWaiters.size === 0) return;
          const event = msg.json<EventRecord>();
          for (const w of this.#eventWaiters) {
            if (!w.predicate(event)) continue;
            this.#eventWaiters.delete(w);
            w.resolve(event);
          }
        },
      }),
    ];
  }

  /** Connects (reconnecting forever, like the services) and subscribes to outcomes. */
  static async open(url: string): Promise<ChaosClient> {
    const nc = await connect({ servers: url, name: "chaos-test", maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    const client = new ChaosClient(nc, await jetstreamManager(nc));
    await nc.flush();
    return client;
  }

  /**
   * Calls `hook` synchronously, inside the subscription's callback, when the task's first outcome
   * message arrives — e.g. to SIGKILL its publisher before that one gets further.
   */
  onFirstOutcome(taskId: string, hook: (outcome: Outcome) => void): void {
    this.#outcomeHooks.set(taskId, hook);
  }

  /**
   * Resolves with the next lifecycle event matching `predicate` as it is published (core
   * subscription), or undefined after `timeoutMs`. Used to time a kill to a moment when the
   * victim is handling a message.
   */
  nextEvent(predicate: (e: EventRecord) => boolean, timeoutMs: number): Promise<EventRecord | undefined> {
    return new Promise((resolve) => {
      const waiter = {
        predicate,
        resolve: (e: EventRecord | undefined) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#eventWaiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.#eventWaiters.add(waiter);
    });
  }

  /** Publishes a submission through JetStream, retried until acked (msgId `submit-<taskId>`). */
  async submit(submission: { taskId: string } & Record<string, unknown>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.js.publish(subjects.submit, JSON.stringify(submission), { msgID: `submit-${submission.taskId}`, timeout: 2_000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(300);
      }
    }
  }

  /** Outcome subjects stored in BATON_OUTCOMES, with their message counts. */
  async storedOutcomeSubjects(): Promise<Record<string, number>> {
    const info = await this.jsm.streams.info(OUTCOMES_STREAM.name, { subjects_filter: ">" });
    return info.state.subjects ?? {};
  }

  /**
   * Waits until every task has an outcome (seen on the core subscription or stored in the
   * stream). `stuck` (checked every 5 s) may name tasks known never to finish, not waited for.
   * @returns the taskIds still without one when `timeoutMs` ran out (or known stuck).
   */
  async waitForOutcomes(
    taskIds: readonly string[],
    timeoutMs: number,
    stuck?: (missing: readonly string[]) => Promise<readonly string[]>,
  ): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    let nextStuckCheck = Date.now() + 5_000;
    for (;;) {
      let missing = taskIds.filter((t) => !this.core.has(t));
      if (missing.length > 0) {
        try {
          const stored = await this.storedOutcomeSubjects();
          missing = missing.filter((t) => !subjects.outcomes(t).some((s) => stored[s]));
        } catch {
          // server down right now: ask again
        }
      }
      if (missing.length === 0 || Date.now() > deadline) return missing;
      if (stuck && Date.now() > nextStuckCheck) {
        nextStuckCheck = Date.now() + 5_000;
        const known = new Set(await stuck(missing).catch(() => []));
        if (missing.every((t) => known.has(t))) return missing;
      }
      await sleep(250);
    }
  }

  /** The outcome BATON_OUTCOMES holds for each task (every stored subject, parsed). */
  async storedOutcomes(taskIds: readonly string[]): Promise<Map<string, Outcome[]>> {
    const stored = await this.storedOutcomeSubjects();
    const out = new Map<string, Outcome[]>();
    for (const taskId of taskIds) {
      const list: Outcome[] = [];
      for (const subject of subjects.outcomes(taskId)) {
        if (!stored[subject]) continue;
        const msg = await this.jsm.streams.getMessage(OUTCOMES_STREAM.name, { last_by_subj: subject });
        if (!msg) continue;
        if (subject.startsWith("tasks.completed.")) list.push({ status: "completed", value: TaskCompleted.parse(msg.json()) });
        else list.push({ status: "failed", value: TaskFailed.parse(msg.json()) });
      }
      out.set(taskId, list);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.#subs) s.unsubscribe();
    await this.nc.drain();
  }
}

/** A lifecycle event as read back from BATON_EVENTS (only the fields the counts use). */
export interface EventRecord {
  readonly type: string;
  readonly taskId: string;
  readonly stepId?: string;
  /** When its publisher made it (ISO 8601). */
  readonly at?: string;
  readonly worker?: string;
  readonly delivery?: number;
  readonly error?: { code: string; message: string };
}

/** Every event in BATON_EVENTS (read with an ordered consumer up to the stream's last message). */
export async function readEvents(client: ChaosClient): Promise<EventRecord[]> {
  const info = await client.jsm.streams.info(EVENTS_STREAM.name);
  const events: EventRecord[] = [];
  if (info.state.messages === 0) return events;
  const consumer = await client.js.consumers.get(EVENTS_STREAM.name);
  const iter = await consumer.consume();
  try {
    for await (const m of iter) {
      events.push(m.json<EventRecord>());
      if (m.info.pending === 0) break;
    }
  } finally {
    await iter.close();
  }
  return events;
}

/** The records of the messages in BATON_DLQ (from their `Baton-Dlq-*` headers). */
export async function readDeadLetters(client: ChaosClient): Promise<DeadLetterRecord[]> {
  const info = await client.jsm.streams.info(DLQ_STREAM.name);
  const out: DeadLetterRecord[] = [];
  for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
    const msg = await client.jsm.streams.getMessage(DLQ_STREAM.name, { seq });
    if (!msg) continue;
    const record = readDeadLetterHeaders((h) => msg.header.get(h));
    if (record.success) out.push(record.data);
  }
  return out;
}

/** One line of EFFECTS_FILE: a real execution of `record_effect`. */
export interface EffectLine {
  readonly taskId: string;
  readonly stepId: string;
  readonly pid: number;
  readonly at: string;
}

/** The recorded executions, by `<taskId> <stepId>`. */
export function readEffects(file: string): Map<string, EffectLine[]> {
  const byStep = new Map<string, EffectLine[]>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const [taskId = "", stepId = "", pid = "", at = ""] = line.split(" ");
    const key = `${taskId} ${stepId}`;
    const list = byStep.get(key) ?? [];
    list.push({ taskId, stepId, pid: Number(pid), at });
    byStep.set(key, list);
  }
  return byStep;
}

/** A record of the effect ledger (KV `baton_effects`). */
export interface EffectClaim {
  readonly state: "started" | "done";
  readonly owner: string;
  readonly startedAt: string;
  readonly taskId: string;
  readonly stepId: string;
  readonly tool: string;
}

/** Every record of the effect ledger. */
export async function readEffectClaims(client: ChaosClient): Promise<EffectClaim[]> {
  const kv = await openKv(client.nc, KV_BUCKETS.effects);
  const claims: EffectClaim[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (entry?.operation === "PUT") claims.push(entry.json<EffectClaim>());
  }
  return claims;
}
