import {
  type DeadLetterRecord,
  deadLetterHeaders,
  DLQ_STREAM,
  HEADERS,
  isCarriedHeader,
  type MaxDeliveriesAdvisory,
  readDeadLetterHeaders,
  subjects,
} from "@baton/contracts";
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { classifyDeadLetter, type DeadLetterKind } from "./classify.ts";

/** A dead letter as the handler reports it. */
export interface DeadLetter {
  readonly record: DeadLetterRecord;
  readonly kind: DeadLetterKind;
  /** The original payload. */
  readonly data: Uint8Array;
  /** The original headers (trace context, …). */
  readonly headers: MsgHdrs;
  /** Its sequence in BATON_DLQ. */
  readonly dlqSeq: number;
  /** False when an earlier delivery of the advisory had already moved it (this one only reports again). */
  readonly moved: boolean;
}

/** The `dlq-<stream>-<seq>` de-duplication id of a dead letter's copy in BATON_DLQ. */
export function deadLetterMsgId(stream: string, seq: number): string {
  return `dlq-${stream}-${seq}`;
}

/**
 * Moves the message an advisory names to BATON_DLQ: reads it by sequence, publishes its payload
 * with its headers plus `Baton-Dlq-*` (msgID `dlq-<stream>-<seq>`, so a repeated move is a
 * duplicate), then deletes the original. When the original is gone already (a redelivered
 * advisory), returns the copy an earlier delivery made, or undefined when there is none
 * (replayed or purged since, or the stream deleted).
 * @throws the client's errors when NATS fails (the advisory is then redelivered).
 */
export async function moveToDeadLetterQueue(
  js: JetStreamClient,
  jsm: JetStreamManager,
  advisory: MaxDeliveriesAdvisory,
  now: Date,
): Promise<DeadLetter | undefined> {
  const { stream, consumer, stream_seq: seq } = advisory;
  const dlqSubject = subjects.deadLetter(stream, consumer, seq);
  const original = await getMessage(jsm, stream, { seq });
  if (!original) {
    const copy = await getMessage(jsm, DLQ_STREAM.name, { last_by_subj: dlqSubject });
    if (!copy) return undefined;
    const record = readDeadLetterHeaders((h) => copy.header.get(h));
    if (!record.success) return undefined;
    return {
      record: record.data,
      kind: classifyDeadLetter(stream, record.data.subject, copy.data),
      data: copy.data,
      headers: copy.header,
      dlqSeq: copy.seq,
      moved: false,
    };
  }
  const kind = classifyDeadLetter(stream, original.subject, original.data);
  const originalMsgId = original.header.get(HEADERS.msgId);
  const record: DeadLetterRecord = {
    schemaVersion: 1,
    stream,
    consumer,
    streamSeq: seq,
    subject: original.subject,
    deliveries: advisory.deliveries,
    deadLetteredAt: now.toISOString(),
    ...("taskId" in kind && kind.taskId ? { taskId: kind.taskId } : {}),
    ...("stepId" in kind ? { stepId: kind.stepId } : {}),
    ...(originalMsgId ? { originalMsgId } : {}),
  };
  const hdrs = copyHeaders(original.header);
  for (const [name, value] of Object.entries(deadLetterHeaders(record))) hdrs.set(name, value);
  const ack = await js.publish(dlqSubject, original.data, { headers: hdrs, msgID: deadLetterMsgId(stream, seq) });
  await deleteMessage(jsm, stream, seq);
  return { record, kind, data: original.data, headers: original.header, dlqSeq: ack.seq, moved: true };
}

/** A copy of the headers of `source` that travel with a dead letter ({@link isCarriedHeader}). */
export function copyHeaders(source: MsgHdrs): MsgHdrs {
  const out = natsHeaders();
  for (const [name, values] of source) {
    if (!isCarriedHeader(name)) continue;
    for (const value of values) out.append(name, value);
  }
  return out;
}

/** `jsm.streams.getMessage`, with a missing stream read as a missing message. */
async function getMessage(
  jsm: JetStreamManager,
  stream: string,
  query: { seq: number } | { last_by_subj: string },
): Promise<StoredMsg | null> {
  try {
    return await jsm.streams.getMessage(stream, query);
  } catch (error) {
    if (/stream not found/i.test(String(error))) return null;
    throw error;
  }
}

/** Deletes a message; one deleted meanwhile (by another replica) counts as deleted. */
async function deleteMessage(jsm: JetStreamManager, stream: string, seq: number): Promise<void> {
  try {
    await jsm.streams.deleteMessage(stream, seq, false);
  } catch (error) {
    if (/no message found|stream not found/i.test(String(error))) return;
    throw error;
  }
}
