import { type DeadLetterRecord, DLQ_STREAM, isCarriedHeader, readDeadLetterHeaders } from "@baton/contracts";
import { headers as natsHeaders, type MsgHdrs } from "@nats-io/transport-node";
import { CliError } from "../cli-error.ts";
import type { CliConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { operatorTrail, withOperatorConnection } from "../operator.ts";
import type { CommandContext } from "./context.ts";

/** One message of BATON_DLQ. `record` is undefined when its `Baton-Dlq-*` headers are missing or invalid. */
export interface DeadLetterEntry {
  readonly seq: number;
  readonly record: DeadLetterRecord | undefined;
  readonly headers: MsgHdrs | undefined;
  readonly data: Uint8Array;
  /** When it entered the DLQ (the stream's timestamp). */
  readonly storedAt: Date;
}

/**
 * `baton dlq list`: one line per dead letter — its DLQ sequence, when it was dead-lettered, the
 * original stream and subject, task/step and deliveries; `{"kind":"dead_letter",...}` lines with --json.
 */
export async function dlqListCommand(ctx: CommandContext): Promise<ExitCode> {
  return withOperatorConnection(ctx, async (conn) => {
    const entries = await readDeadLetters(conn);
    const { output } = ctx;
    for (const entry of entries) {
      if (output.json)
        output.jsonLine({ kind: "dead_letter", seq: entry.seq, ...(entry.record ?? { storedAt: entry.storedAt.toISOString() }) });
      else output.out(listLine(entry));
    }
    if (!output.json)
      output.err(entries.length === 0 ? `${DLQ_STREAM.name} is empty.` : `${entries.length} dead letter(s) in ${DLQ_STREAM.name}.`);
    return EXIT.ok;
  });
}

/** `baton dlq show <seq>`: the dead letter's metadata and headers, then its payload (pretty JSON when it is JSON). */
export async function dlqShowCommand(ctx: CommandContext, seq: number): Promise<ExitCode> {
  return withOperatorConnection(ctx, async (conn) => {
    const entry = await readDeadLetter(conn, seq);
    const { output } = ctx;
    const payload = decodePayload(entry.data);
    if (output.json) {
      output.jsonLine({
        kind: "dead_letter",
        seq: entry.seq,
        ...(entry.record ? { record: entry.record } : {}),
        headers: headerObject(entry.headers),
        ...payload,
      });
      return EXIT.ok;
    }
    output.out(`dead letter #${entry.seq} (stored ${entry.storedAt.toISOString()})`);
    const r = entry.record;
    if (r) {
      const rows: [string, string | undefined][] = [
        ["stream", `${r.stream} #${r.streamSeq}`],
        ["consumer", r.consumer],
        ["subject", r.subject],
        ["task", r.taskId],
        ["step", r.stepId],
        ["deliveries", String(r.deliveries)],
        ["dead-lettered", r.deadLetteredAt],
        ["original msg id", r.originalMsgId],
      ];
      for (const [label, value] of rows) if (value !== undefined) output.out(`  ${label.padEnd(17)}${value}`);
    } else {
      output.out("  (no Baton-Dlq-* headers: not published by Baton's dead-letter handler)");
    }
    const carried = Object.entries(headerObject(entry.headers)).filter(([name]) => isCarriedHeader(name));
    if (carried.length > 0) {
      output.out("headers:");
      for (const [name, values] of carried) output.out(`  ${name}: ${values.join(", ")}`);
    }
    output.out(`payload (${entry.data.byteLength} bytes):`);
    if ("payload" in payload) output.out(JSON.stringify(payload.payload, null, 2));
    else if ("payloadText" in payload) output.out(payload.payloadText);
    else output.out(`base64: ${payload.payloadBase64}`);
    return EXIT.ok;
  });
}

/**
 * `baton dlq replay <seq> | --all`: publishes each dead letter's original payload and headers on
 * its original subject again (msgID `replay-<dlqseq>-<timestamp>`, so the stream does not drop it
 * as a repeat), then deletes it from the DLQ.
 * @throws CliError (exit 2) for `<seq>` together with `--all`, or neither; (exit 3) for an unknown seq.
 */
export async function dlqReplayCommand(ctx: CommandContext, seq: number | undefined, flags: { all?: boolean }): Promise<ExitCode> {
  if ((seq === undefined) === !flags.all) {
    throw new CliError("give a dead letter's sequence number or --all (not both)", EXIT.invalid);
  }
  return withOperatorConnection(ctx, async (conn) => {
    const entries = seq === undefined ? await readDeadLetters(conn) : [await readDeadLetter(conn, seq)];
    const { output } = ctx;
    for (const entry of entries) {
      const { record } = entry;
      if (!record) {
        throw new CliError(`dead letter #${entry.seq} has no valid Baton-Dlq-* headers: its original subject is unknown`, EXIT.failed);
      }
      const headers = natsHeaders();
      for (const [name, values] of Object.entries(headerObject(entry.headers))) {
        if (isCarriedHeader(name)) for (const value of values) headers.append(name, value);
      }
      const ack = await conn.js.publish(record.subject, entry.data, { headers, msgID: `replay-${entry.seq}-${Date.now()}` });
      await conn.jsm.streams.deleteMessage(DLQ_STREAM.name, entry.seq, false);
      await operatorTrail(conn).publish({
        kind: "dlq_replay",
        ...(record.taskId ? { taskId: record.taskId } : {}),
        ...(record.stepId ? { stepId: record.stepId } : {}),
        details: { dlqSeq: entry.seq, subject: record.subject, stream: ack.stream, streamSeq: ack.seq },
      });
      if (output.json)
        output.jsonLine({ kind: "replayed", seq: entry.seq, subject: record.subject, stream: ack.stream, streamSeq: ack.seq });
      else output.out(`replayed #${entry.seq} → ${record.subject} (${ack.stream} #${ack.seq})`);
    }
    if (!output.json && entries.length === 0) output.err(`${DLQ_STREAM.name} is empty: nothing to replay.`);
    return EXIT.ok;
  });
}

/**
 * `baton dlq purge --yes`: deletes every dead letter.
 * @throws CliError (exit 2) without --yes.
 */
export async function dlqPurgeCommand(ctx: CommandContext, flags: { yes?: boolean }): Promise<ExitCode> {
  return withOperatorConnection(ctx, async (conn) => {
    const info = await conn.jsm.streams.info(DLQ_STREAM.name);
    const count = info.state.messages;
    if (!flags.yes) {
      throw new CliError(`refusing to delete ${count} dead letter(s) without --yes (baton dlq purge --yes)`, EXIT.invalid);
    }
    const { purged } = await conn.jsm.streams.purge(DLQ_STREAM.name);
    await operatorTrail(conn).publish({ kind: "dlq_purge", details: { count: purged } });
    if (ctx.output.json) ctx.output.jsonLine({ kind: "purged", purged });
    else ctx.output.out(`purged ${purged} dead letter(s) from ${DLQ_STREAM.name}`);
    return EXIT.ok;
  });
}

/** Every dead letter, oldest first, read with an ordered consumer. */
export async function readDeadLetters(conn: CliConnection): Promise<DeadLetterEntry[]> {
  const info = await conn.jsm.streams.info(DLQ_STREAM.name);
  if (info.state.messages === 0) return [];
  const consumer = await conn.js.consumers.get(DLQ_STREAM.name);
  const entries: DeadLetterEntry[] = [];
  const batch = await consumer.fetch({ max_messages: info.state.messages, expires: 5_000 });
  for await (const m of batch) {
    entries.push({ seq: m.seq, record: recordOf(m.headers), headers: m.headers, data: m.data, storedAt: m.time });
    if (m.info.pending === 0) break;
  }
  return entries;
}

/** One dead letter by its DLQ sequence. @throws CliError (exit 3) when there is none. */
async function readDeadLetter(conn: CliConnection, seq: number): Promise<DeadLetterEntry> {
  const m = await conn.jsm.streams.getMessage(DLQ_STREAM.name, { seq });
  if (!m) throw new CliError(`no dead letter #${seq} in ${DLQ_STREAM.name} (see baton dlq list)`, EXIT.notFound);
  return { seq: m.seq, record: recordOf(m.header), headers: m.header, data: m.data, storedAt: m.time };
}

function recordOf(headers: MsgHdrs | undefined): DeadLetterRecord | undefined {
  if (!headers) return undefined;
  const parsed = readDeadLetterHeaders((name) => (headers.has(name) ? headers.get(name) : undefined));
  return parsed.success ? parsed.data : undefined;
}

function listLine(entry: DeadLetterEntry): string {
  const r = entry.record;
  if (!r) return `#${entry.seq}  ${entry.storedAt.toISOString()}  (not a Baton dead letter)`;
  const task = [r.taskId ? `task ${r.taskId}` : undefined, r.stepId ? `step ${r.stepId}` : undefined].filter(Boolean).join(" ");
  return [
    `#${entry.seq}`,
    r.deadLetteredAt,
    `${r.stream}#${r.streamSeq}`,
    r.subject,
    task || "-",
    `${r.deliveries} deliveries (${r.consumer})`,
  ].join("  ");
}

function headerObject(headers: MsgHdrs | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (headers) for (const [name, values] of headers) out[name] = [...values];
  return out;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The payload as JSON when it is JSON, else as text when UTF-8, else base64. */
function decodePayload(data: Uint8Array): { payload: unknown } | { payloadText: string } | { payloadBase64: string } {
  let text: string;
  try {
    text = decoder.decode(data);
  } catch {
    return { payloadBase64: Buffer.from(data).toString("base64") };
  }
  try {
    return { payload: JSON.parse(text) };
  } catch {
    return { payloadText: text };
  }
}
