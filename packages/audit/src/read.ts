import { AUDIT_STREAM, AuditRecord, auditSubjects } from "@baton/contracts";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { type ChainAnchor, ChainVerifier, type VerifyResult } from "./chain.ts";

/** One message of the audit stream: the record when it is one, else why not. */
export interface StoredAuditRecord {
  readonly seq: number;
  /** When the stream stored it. */
  readonly storedAt: Date;
  readonly subject: string;
  readonly record?: AuditRecord;
  /** Why the message is not a valid record (only when `record` is absent). */
  readonly problem?: string;
}

/** Options of {@link readStream}. */
interface ReadStreamOptions {
  readonly filterSubject?: string;
  readonly startTime?: Date;
  /** Messages per pull; default 256. */
  readonly batch?: number;
}

/**
 * Every message of `stream` (matching `filterSubject`, from `startTime`), oldest first, read with
 * an ordered consumer that is deleted afterwards. Stops at the stream's last message as of the
 * start, so records appended meanwhile are not waited for.
 */
export async function* readStream(js: JetStreamClient, stream: string, options: ReadStreamOptions = {}): AsyncGenerator<JsMsg> {
  const jsm = await js.jetstreamManager();
  const info = await jsm.streams.info(stream, options.filterSubject ? { subjects_filter: options.filterSubject } : undefined);
  const { state } = info;
  if (state.messages === 0) return;
  if (options.filterSubject && !options.filterSubject.includes("*") && !options.filterSubject.includes(">")) {
    if ((state.subjects?.[options.filterSubject] ?? 0) === 0) return;
  }
  if (options.startTime && Date.parse(state.last_ts) < options.startTime.getTime()) return;
  const lastSeq = state.last_seq;
  const consumer = await js.consumers.get(stream, {
    ...(options.filterSubject ? { filter_subjects: options.filterSubject } : {}),
    ...(options.startTime ? { opt_start_time: options.startTime.toISOString() } : {}),
  });
  try {
    for (;;) {
      const batch = await consumer.fetch({ max_messages: options.batch ?? 256, expires: 2_000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        yield m;
        if (m.seq >= lastSeq || m.info.pending === 0) {
          batch.stop();
          return;
        }
      }
      if (got === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}

/** Parses one stored message as an audit record. */
export function parseStoredRecord(m: Pick<JsMsg, "seq" | "time" | "subject" | "data">): StoredAuditRecord {
  const base = { seq: m.seq, storedAt: m.time, subject: m.subject };
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(m.data));
  } catch (error) {
    return { ...base, problem: `not UTF-8 JSON: ${(error as Error).message}` };
  }
  const parsed = AuditRecord.safeParse(raw);
  if (!parsed.success) return { ...base, problem: `not an audit record: ${parsed.error.issues.map((i) => i.message).join("; ")}` };
  return { ...base, record: parsed.data };
}

/** Options of {@link readAudit}. */
export interface ReadAuditOptions {
  /** Only this task's records (read from its own subject, without scanning the rest). */
  readonly taskId?: string;
  /** The stream to read; default BATON_AUDIT (another for a copy). */
  readonly stream?: string;
}

/** The audit records (of one task, or all), oldest first, as stored; messages that are not records come with a `problem`. */
export async function readAudit(js: JetStreamClient, options: ReadAuditOptions = {}): Promise<StoredAuditRecord[]> {
  const out: StoredAuditRecord[] = [];
  const filterSubject = options.taskId ? auditSubjects.logOfTask(options.taskId) : undefined;
  for await (const m of readStream(js, options.stream ?? AUDIT_STREAM.name, filterSubject ? { filterSubject } : {})) {
    out.push(parseStoredRecord(m));
  }
  return out;
}

/** Options of {@link verifyAudit}. */
export interface VerifyAuditOptions {
  /** The stream to verify; default BATON_AUDIT (another for a copy). */
  readonly stream?: string;
  /** Record hashes written down earlier (e.g. from a previous `baton audit verify`), checked too. */
  readonly anchors?: readonly ChainAnchor[];
}

/**
 * Verifies the whole chain in `stream` (default BATON_AUDIT), record by record in stream order,
 * without holding it in memory: every hash recomputed, every `prevHash` checked against the
 * previous record's hash, indexes consecutive, anchors matched. Stops at the first break. A chain
 * whose first retained record has index > 0 (earlier ones expired) verifies, with
 * `startsAfterExpiry: true`.
 */
export async function verifyAudit(js: JetStreamClient, options: VerifyAuditOptions = {}): Promise<VerifyResult> {
  const verifier = new ChainVerifier(options.anchors);
  for await (const m of readStream(js, options.stream ?? AUDIT_STREAM.name)) {
    if (!verifier.add(m.data, m.seq)) break;
  }
  return verifier.result();
}
