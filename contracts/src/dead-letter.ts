import { z } from "zod";
import { StepId, TaskId, Timestamp } from "./ids.ts";
import { SchemaVersion } from "./version.ts";

/**
 * The advisory nats-server publishes on `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`
 * when a message exhausts a consumer's max_deliver. It carries no payload: the message itself
 * stays in its stream (in a work-queue stream too) until someone deletes it. Other fields the
 * server sends (`id`, `domain`, …) are ignored.
 */
export const MaxDeliveriesAdvisory = z.object({
  type: z.literal("io.nats.jetstream.advisory.v1.max_deliver"),
  timestamp: z.string().optional(),
  stream: z.string().min(1),
  consumer: z.string().min(1),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int().nonnegative(),
});
export type MaxDeliveriesAdvisory = z.infer<typeof MaxDeliveriesAdvisory>;

/**
 * What Baton records about a dead letter. A message in BATON_DLQ (subject
 * `dlq.<stream>.<consumer>.<streamSeq>`) is laid out so it can be replayed as is:
 * - the **body is the original payload**, byte for byte;
 * - the **headers are the original headers** (trace context, `Baton-Task-Id`, …) except
 *   `Nats-Msg-Id`, which is replaced by `dlq-<stream>-<streamSeq>` (a repeated move is dropped
 *   by the DLQ stream's duplicate window) and kept in `Baton-Dlq-Original-Msg-Id`;
 * - **plus this record, one header per field** ({@link DEAD_LETTER_HEADERS}).
 *
 * Replaying a dead letter publishes its body and original headers (without `Baton-Dlq-*`) on
 * `subject` again, with a fresh `Nats-Msg-Id` so the original stream does not drop it as a repeat.
 */
export const DeadLetterRecord = z.object({
  schemaVersion: SchemaVersion,
  /** The stream the message was in, e.g. `BATON_WORK`. */
  stream: z.string().min(1),
  /** The durable consumer that gave up on it, e.g. `data-agent`. */
  consumer: z.string().min(1),
  /** Its sequence in `stream` (deleted from there once copied to the DLQ). */
  streamSeq: z.number().int().positive(),
  /** Its original subject, e.g. `work.data.<taskId>.<stepId>`; replay publishes here. */
  subject: z.string().min(1),
  /** Deliveries made before the server gave up (the consumer's max_deliver). */
  deliveries: z.number().int().nonnegative(),
  deadLetteredAt: Timestamp,
  /** The task it belongs to, when known (from the subject, or a submission's payload). */
  taskId: TaskId.optional(),
  /** The step it belongs to, for work and results. */
  stepId: StepId.optional(),
  /** The original `Nats-Msg-Id`, when it had one. */
  originalMsgId: z.string().optional(),
});
export type DeadLetterRecord = z.infer<typeof DeadLetterRecord>;

/** The header carrying each {@link DeadLetterRecord} field on a BATON_DLQ message. */
export const DEAD_LETTER_HEADERS = {
  schemaVersion: "Baton-Dlq-Schema-Version",
  stream: "Baton-Dlq-Stream",
  consumer: "Baton-Dlq-Consumer",
  streamSeq: "Baton-Dlq-Stream-Seq",
  subject: "Baton-Dlq-Subject",
  deliveries: "Baton-Dlq-Deliveries",
  deadLetteredAt: "Baton-Dlq-At",
  taskId: "Baton-Dlq-Task-Id",
  stepId: "Baton-Dlq-Step-Id",
  originalMsgId: "Baton-Dlq-Original-Msg-Id",
} as const satisfies Record<keyof DeadLetterRecord, string>;

/** Every dead-letter header starts with this (case-insensitively); replay strips them. */
export const DEAD_LETTER_HEADER_PREFIX = "Baton-Dlq-";

/**
 * Whether an original header travels with a message into the DLQ and back on replay: every
 * header except JetStream's publish headers (`Nats-Msg-Id`, `Nats-Expected-*`, …, which would
 * make the new publish a duplicate or fail) and the `Baton-Dlq-*` headers.
 */
export function isCarriedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return !lower.startsWith("nats-") && !lower.startsWith(DEAD_LETTER_HEADER_PREFIX.toLowerCase());
}

/** The record as header name → value (absent optional fields give no header). */
export function deadLetterHeaders(record: DeadLetterRecord): Record<string, string> {
  const parsed = DeadLetterRecord.parse(record);
  const out: Record<string, string> = {};
  for (const [field, header] of Object.entries(DEAD_LETTER_HEADERS)) {
    const value = parsed[field as keyof DeadLetterRecord];
    if (value !== undefined) out[header] = String(value);
  }
  return out;
}

const NUMERIC_FIELDS: ReadonlySet<string> = new Set(["schemaVersion", "streamSeq", "deliveries"]);

/**
 * Reads a {@link DeadLetterRecord} back from a message's headers; `get` returns a header's value
 * (empty or undefined when absent), e.g. `(name) => msg.headers?.get(name)`.
 */
export function readDeadLetterHeaders(get: (header: string) => string | undefined): z.ZodSafeParseResult<DeadLetterRecord> {
  const raw: Record<string, unknown> = {};
  for (const [field, header] of Object.entries(DEAD_LETTER_HEADERS)) {
    const value = get(header);
    if (value === undefined || value === "") continue;
    raw[field] = NUMERIC_FIELDS.has(field) && /^\d+$/.test(value) ? Number(value) : value;
  }
  return DeadLetterRecord.safeParse(raw);
}
