import {
  AUDIT_CHAINER_CONSUMER,
  AUDIT_DEFAULT_MAX_AGE_DAYS,
  AUDIT_STREAM,
  AuditEntry,
  AuditRecord,
  auditLogSubject,
  auditSourceOf,
  auditStreamSpec,
  auditSubjects,
  type ConsumerSpec,
} from "@baton/contracts";
import {
  connectionOf,
  ConsumerLoop,
  decodeJson,
  ensureConsumer,
  ensureStream,
  injectTraceHeaders,
  isWrongSequence,
  type Logger,
  redact,
  retryWhileUnavailable,
  type ServiceContext,
  sleep,
  TransientError,
} from "@baton/core";
import type { JetStreamClient, JetStreamManager, JsMsg, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { buildRecord, type ChainLink } from "./chain.ts";
import { canonicalJson } from "./canonical.ts";
import { readStream } from "./read.ts";

/** The chain's last record as the chainer knows it; `seq` is the stream's last sequence (the expected one for the next append). */
interface Head {
  readonly seq: number;
  /** The next record's place; prevHash null when no earlier record is readable (empty, or all expired). */
  readonly next: ChainLink;
}

/** Counters of a chainer, since it started. */
export interface AuditChainerStats {
  /** Records appended. */
  appended: number;
  /** Entries already in the chain (a redelivery or a repeat): not appended again. */
  duplicates: number;
  /** Appends refused because another chainer appended first (then retried on the new head). */
  conflicts: number;
  /** Invalid entries dropped (logged at error level). */
  dropped: number;
}

/** Options of {@link AuditChainer} and {@link startAuditChainer}. */
export interface AuditChainerOptions {
  /** Retention of BATON_AUDIT in days, applied to the stream at start; default 365. */
  readonly maxAgeDays?: number;
  /** The consumer of entries; default {@link AUDIT_CHAINER_CONSUMER}. */
  readonly consumer?: ConsumerSpec;
  /**
   * A redelivered entry first stored longer ago than this is looked up in the chain before it is
   * appended (the stream's duplicate window may no longer cover its `Nats-Msg-Id`). Default 90,000 ms.
   */
  readonly lookupAfterMs?: number;
}

const MAX_APPEND_ATTEMPTS = 50;
/** How long one append is sent again while the broker is unavailable, in ms. */
const APPEND_RETRY_MS = 10_000;
/** How far back a chain message may walk to find the last valid record when foreign messages follow it. */
const MAX_HEAD_WALK = 1_000;

/**
 * Appends audit entries to the chain, one at a time. For each entry: the source is taken from the
 * subject (`audit.in.<source>`), the details redacted again, and the record published on
 * `audit.log.…` with `Nats-Expected-Last-Sequence` = the head's sequence and `Nats-Msg-Id`
 * `audit-<entry id>`. When another chainer appended first (wrong last sequence), the head is read
 * again and the append retried, so any number of chainers (supervisor replicas) build one chain.
 */
export class AuditChainer {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #logger: Logger;
  readonly #stream: string;
  readonly #lookupAfterMs: number;
  #head: Head | undefined;
  readonly stats: AuditChainerStats = { appended: 0, duplicates: 0, conflicts: 0, dropped: 0 };

  constructor(js: JetStreamClient, jsm: JetStreamManager, logger: Logger, options: AuditChainerOptions = {}) {
    this.#js = js;
    this.#jsm = jsm;
    this.#logger = logger;
    this.#stream = AUDIT_STREAM.name;
    this.#lookupAfterMs = options.lookupAfterMs ?? 90_000;
  }

  /**
   * Chains one delivered entry. Returns `"term"` for an entry that cannot be chained (unknown
   * subject, invalid JSON or schema; logged at error level); resolves (ack) once the record is in
   * the chain, or was already.
   * @throws TransientError when NATS fails (the entry is redelivered).
   */
  async handle(msg: JsMsg): Promise<void | "term"> {
    const source = auditSourceOf(msg.subject);
    if (!source) {
      this.stats.dropped++;
      this.#logger.error({ subject: msg.subject, seq: msg.seq }, "audit entry on a subject that names no audit source dropped");
      return "term";
    }
    const decoded = decodeJson(msg.data, AuditEntry);
    if (!decoded.ok) {
      this.stats.dropped++;
      this.#logger.error({ subject: msg.subject, seq: msg.seq, error: decoded.error }, "invalid audit entry dropped");
      return "term";
    }
    const entry: AuditEntry = { ...decoded.value, details: redact(decoded.value.details) };
    const log = this.#logger.child({ auditId: entry.id, source, kind: entry.kind });
    try {
      if (msg.info.deliveryCount > 1 && Date.now() - msg.time.getTime() > this.#lookupAfterMs) {
        const found = await this.#findRecord(entry.id, new Date(msg.time.getTime() - 60_000));
        if (found !== undefined) {
          this.stats.duplicates++;
          log.info({ seq: found }, "redelivered audit entry is already in the chain");
          return;
        }
      }
      await this.#append(entry, source, log);
    } catch (error) {
      if (error instanceof TransientError) throw error;
      throw new TransientError(`could not append audit entry ${entry.id} to ${this.#stream}`, error);
    }
  }

  async #append(entry: AuditEntry, source: NonNullable<ReturnType<typeof auditSourceOf>>, log: Logger): Promise<void> {
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const head = this.#head ?? (await this.#readHead());
      const record = buildRecord(entry, source, head.next);
      const hdrs = natsHeaders();
      injectTraceHeaders(hdrs);
      try {
        // Sent again (same Nats-Msg-Id) when a broker outage swallows it: a repeat of an append
        // that landed is a duplicate, or a conflict that re-reads the head, as below.
        const ack = await retryWhileUnavailable(
          () =>
            this.#js.publish(auditLogSubject(record), canonicalJson(record), {
              msgID: `audit-${entry.id}`,
              expect: { lastSequence: head.seq },
              headers: hdrs,
            }),
          { what: `append audit entry ${entry.id}`, forMs: APPEND_RETRY_MS, nc: connectionOf(this.#js), logger: log },
        );
        if (ack.duplicate) {
          // Appended before (by us or another chainer, e.g. before a crash): where the head is now is unknown.
          this.#head = undefined;
          this.stats.duplicates++;
          log.debug({ seq: ack.seq }, "audit entry already in the chain");
          return;
        }
        this.#head = { seq: ack.seq, next: { index: record.index + 1, prevHash: record.hash } };
        this.stats.appended++;
        return;
      } catch (error) {
        this.#head = undefined;
        if (!isWrongSequence(error)) throw error;
        this.stats.conflicts++;
        // Another chainer appended first: read the new head and try again (with a little jitter
        // once it keeps happening, so two chainers do not collide in lockstep).
        if (attempt > 2) await sleep(Math.floor(Math.random() * Math.min(50, attempt * 5)));
      }
    }
    throw new TransientError(`could not append audit entry ${entry.id}: the chain kept moving (${MAX_APPEND_ATTEMPTS} attempts)`);
  }

  /**
   * Reads the chain's head: the stream's last sequence and the last valid record. An empty stream
   * starts the chain at index 0; a stream whose records all expired continues at index = its last
   * sequence (greater than any earlier index) with no previous hash, which verification reports as
   * a chain starting after expiry.
   */
  async #readHead(): Promise<Head> {
    // The stream holds only audit.log.>: its last message there is the stream's last (one round trip).
    const last = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: auditSubjects.logAll });
    if (last) {
      const record = recordOf(last);
      if (record) return { seq: last.seq, next: { index: record.index + 1, prevHash: record.hash } };
    }
    const { state } = await this.#jsm.streams.info(this.#stream);
    const lastSeq = state.last_seq;
    if (lastSeq === 0) return { seq: 0, next: { index: 0, prevHash: null } };
    // Messages that are not records follow the last one (someone else published on audit.log.>):
    // chain on from the last record; verification reports the intruders.
    const lowest = Math.max(state.first_seq, lastSeq - MAX_HEAD_WALK + 1);
    for (let seq = lastSeq - 1; seq >= lowest && state.messages > 0; seq--) {
      const m = await this.#jsm.streams.getMessage(this.#stream, { seq }).catch(() => null);
      const record = m ? recordOf(m) : undefined;
      if (record) {
        this.#logger.error(
          { stream: this.#stream, from: seq + 1, to: lastSeq },
          "the audit stream holds messages that are not audit records after the last record: who may publish on audit.log.>?",
        );
        return { seq: lastSeq, next: { index: record.index + 1, prevHash: record.hash } };
      }
    }
    this.#logger.warn(
      { stream: this.#stream, lastSeq, messages: state.messages },
      "no earlier audit record is readable (all expired): the chain continues without a previous hash",
    );
    return { seq: lastSeq, next: { index: lastSeq, prevHash: null } };
  }

  /** The stream sequence of the record for entry `id` stored since `since`, if any. */
  async #findRecord(id: string, since: Date): Promise<number | undefined> {
    for await (const m of readStream(this.#js, this.#stream, { startTime: since })) {
      try {
        if (m.json<{ id?: unknown }>().id === id) return m.seq;
      } catch {
        // not a record: skip
      }
    }
    return undefined;
  }
}

/** A running chainer. */
export interface RunningAuditChainer {
  readonly chainer: AuditChainer;
  /** Stops pulling entries; waits up to `graceMs` for the one in hand. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts the audit chainer of a service (the supervisor): applies the retention (`maxAgeDays`) to
 * BATON_AUDIT, creates the durable `audit-chainer` on BATON_AUDIT_IN (shared by every replica) and
 * chains entries one at a time. Invalid entries are logged and dropped; NATS failures are retried.
 */
export async function startAuditChainer(service: ServiceContext, options: AuditChainerOptions = {}): Promise<RunningAuditChainer> {
  const logger = service.logger.child({ component: "audit-chainer" });
  const jsm = await service.js.jetstreamManager();
  const maxAgeDays = options.maxAgeDays ?? AUDIT_DEFAULT_MAX_AGE_DAYS;
  const spec = auditStreamSpec(maxAgeDays);
  const before = await jsm.streams.info(spec.name).catch(() => undefined);
  await ensureStream(jsm, spec);
  const previousMs = before ? before.config.max_age / 1e6 : undefined;
  if (previousMs !== undefined && previousMs !== spec.maxAgeMs) {
    logger.warn({ stream: spec.name, fromDays: previousMs / 86_400_000, toDays: maxAgeDays }, "audit retention changed");
  }
  const consumer = options.consumer ?? AUDIT_CHAINER_CONSUMER;
  await ensureConsumer(jsm, consumer);
  const chainer = new AuditChainer(service.js, jsm, logger, options);
  // One slot (the chain is appended in order); entries arrive in batches of up to 64 per pull.
  const loop = new ConsumerLoop(
    service.js,
    { spec: consumer, concurrency: 1, pullBatch: 64, template: "audit.in.{source}", logger },
    (msg) => chainer.handle(msg),
  );
  loop.start();
  logger.info({ stream: spec.name, maxAgeDays }, "audit chainer ready");
  return {
    chainer,
    async stop(graceMs) {
      await loop.stop(graceMs);
      logger.info({ ...chainer.stats }, "audit chainer stopped");
    },
  };
}

function recordOf(m: StoredMsg): AuditRecord | undefined {
  let raw: unknown;
  try {
    raw = m.json();
  } catch {
    return undefined;
  }
  const parsed = AuditRecord.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}
