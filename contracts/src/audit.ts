import { z } from "zod";
import { AgentName } from "./agents.ts";
import { StepId, TaskId, Timestamp } from "./ids.ts";
import type { ConsumerSpec, StreamSpec } from "./streams.ts";
import { SchemaVersion } from "./version.ts";

/**
 * The audit ledger: an append-only, hash-chained record of every security-relevant event.
 *
 * Producers (any service, the CLI) publish an {@link AuditEntry} on the subject of their role
 * (`audit.in.<role>`, see {@link auditSubjects}); NATS permissions decide who may publish on which.
 * The entries wait in the work-queue stream {@link AUDIT_IN_STREAM} until the supervisor's chainer
 * (durable {@link AUDIT_CHAINER_CONSUMER}) appends each, as an {@link AuditRecord} carrying the
 * hash of the record before it, to {@link AUDIT_STREAM} — a stream that refuses single deletes
 * and purges. Nobody but the chainer writes the chain.
 */

/** What happened. New kinds are additive; a chainer refuses kinds it does not know (update it first). */
export const AuditKind = z.enum([
  /** A task was accepted (details: goal digest, step count, plan source, budget). */
  "submission",
  /** A submission was refused (details: error code, message). */
  "rejection",
  /** A worker ran one tool call (details: {@link ToolCallAuditDetails}). */
  "tool_call",
  /** A step waits for a human decision (details: what is asked, risk tier). */
  "approval_requested",
  /** A human approved or denied (details: decision, by whom, reason). */
  "approval_decided",
  /** A task was cancelled (details: reason, by whom). */
  "cancellation",
  /** A compensating call ran for a step of a failed task (saga). */
  "compensation",
  /** A task ended (details: status, error code, usage). */
  "task_completed",
  "task_failed",
  /** A task was stopped by its budget (details: which limit, spent, limit). */
  "budget_exceeded",
  /** A message a consumer gave up on was moved to BATON_DLQ (details: stream, seq, subject, consumer). */
  "dead_lettered",
  /** An operator replayed a dead letter (details: dlq seq, subject, new stream seq). */
  "dlq_replay",
  /** An operator purged the dead-letter queue (details: count). */
  "dlq_purge",
  /** Something was refused for lack of permission (details: what, subject, code). */
  "permission_violation",
  /** An agent type registered or changed its card (details: version, tools with risk tiers). */
  "agent_registered",
  /** An agent type was deregistered (`baton agents remove`). */
  "agent_removed",
  /** A security-relevant setting changed (details: which, from, to). */
  "config_changed",
]);
export type AuditKind = z.infer<typeof AuditKind>;

/** Largest `details` object accepted, as JSON: 8 KiB. Audit entries say what happened, not carry payloads. */
export const AUDIT_DETAILS_MAX_BYTES = 8 * 1024;

/** A SHA-256 digest, lower-case hex. */
export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 digest in lower-case hex");
export type Sha256Hex = z.infer<typeof Sha256Hex>;

/** An entry's details: a small JSON object (at most {@link AUDIT_DETAILS_MAX_BYTES} as JSON). */
export const AuditDetails = z
  .record(z.string(), z.json())
  .refine((d) => new TextEncoder().encode(JSON.stringify(d)).byteLength <= AUDIT_DETAILS_MAX_BYTES, {
    message: `must be at most ${AUDIT_DETAILS_MAX_BYTES} bytes as JSON`,
  });
export type AuditDetails = z.infer<typeof AuditDetails>;

/**
 * What a producer publishes on `audit.in.<role>`. `id` is the idempotency key: an entry delivered
 * twice is appended once (the record's `Nats-Msg-Id` is `audit-<id>`). `at` is the producer's clock.
 * Unknown fields are refused.
 */
export const AuditEntry = z.strictObject({
  schemaVersion: SchemaVersion,
  /** A UUID the producer generates; the idempotency key. */
  id: z.uuid(),
  at: Timestamp,
  kind: AuditKind,
  /** Who did it: a service instance (`supervisor-1a2b3c4d`), a worker instance, or a user. */
  actor: z.string().min(1).max(256),
  taskId: TaskId.optional(),
  stepId: StepId.optional(),
  agent: AgentName.optional(),
  details: AuditDetails,
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/**
 * Who published an entry, from the subject it arrived on (never from its payload): `supervisor`,
 * `synthesizer`, `operator`, `client` or `agent.<agent>`.
 */
export const AuditSource = z
  .string()
  .regex(
    /^(supervisor|synthesizer|operator|client|agent\.[a-z][a-z0-9-]{0,31})$/,
    "must be supervisor, synthesizer, operator, client or agent.<agent>",
  );
export type AuditSource = z.infer<typeof AuditSource>;

/**
 * One link of the chain in BATON_AUDIT: the entry, plus
 * - `source`: the role of the subject the entry arrived on;
 * - `index`: its position in the chain (0 for the first record; consecutive);
 * - `prevHash`: the previous record's `hash` (null for the first record of a chain, and for the
 *   first record written after every earlier record expired);
 * - `chainedAt`: when the chainer appended it (its clock);
 * - `hash`: SHA-256 (hex) of the canonical JSON (keys sorted, no whitespace) of the record without `hash`.
 */
export const AuditRecord = AuditEntry.extend({
  /** No size limit here: redaction by the chainer may lengthen a value, and a stored record is never refused. */
  details: z.record(z.string(), z.json()),
  source: AuditSource,
  index: z.number().int().nonnegative(),
  prevHash: Sha256Hex.nullable(),
  chainedAt: Timestamp,
  hash: Sha256Hex,
});
export type AuditRecord = z.infer<typeof AuditRecord>;

/** The result of a tool call, as audited. */
export const ToolCallAuditStatus = z.enum(["ok", "error", "replayed"]);

/**
 * The `details` of a `tool_call` entry. `argsSha256` is SHA-256 of the canonical JSON of the
 * arguments; the arguments themselves (redacted) only when the producer is configured to include them.
 */
export const ToolCallAuditDetails = z.object({
  tool: z.string().min(1),
  riskTier: z.enum(["read", "compute", "write", "external"]),
  /** The worker instance that ran it. */
  worker: z.string().min(1),
  argsSha256: Sha256Hex,
  args: z.record(z.string(), z.json()).optional(),
  /** The effect-ledger id, for non-idempotent tools. */
  effectId: z.string().optional(),
  status: ToolCallAuditStatus,
  /** The error code when `status` is `error`. */
  code: z.string().optional(),
  durationMs: z.number().nonnegative(),
});
export type ToolCallAuditDetails = z.infer<typeof ToolCallAuditDetails>;

/** The fixed roles that publish audit entries (agents publish as `agent.<agent>`). */
export const AUDIT_ROLES = ["supervisor", "synthesizer", "operator", "client"] as const;

/**
 * Audit subjects. Producers publish entries on `audit.in.<role>`; the chainer appends records on
 * `audit.log.task.<taskId>` (entries with a taskId) or `audit.log.system` (the rest), so one
 * task's records are read without scanning the whole ledger. Tokens are validated ids, so no
 * builder produces a wider subject than intended.
 */
export const auditSubjects = {
  supervisor: "audit.in.supervisor",
  synthesizer: "audit.in.synthesizer",
  operator: "audit.in.operator",
  client: "audit.in.client",
  agent: (agent: AgentName) => `audit.in.agent.${agent}`,
  /** Where a producer of `source` publishes: `audit.in.<source>`. */
  in: (source: AuditSource) => `audit.in.${source}`,
  inAll: "audit.in.>",
  /** The records of one task. */
  logOfTask: (taskId: string) => `audit.log.task.${taskId}`,
  /** Records without a task. */
  logSystem: "audit.log.system",
  logAll: "audit.log.>",
} as const;

/** The subject a record is stored on in BATON_AUDIT. */
export function auditLogSubject(record: Pick<AuditRecord, "taskId">): string {
  return record.taskId ? auditSubjects.logOfTask(record.taskId) : auditSubjects.logSystem;
}

/** The source an entry's subject names (`audit.in.agent.data` → `agent.data`), or undefined when it names none. */
export function auditSourceOf(subject: string): AuditSource | undefined {
  const prefix = "audit.in.";
  if (!subject.startsWith(prefix)) return undefined;
  const parsed = AuditSource.safeParse(subject.slice(prefix.length));
  return parsed.success ? parsed.data : undefined;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Default retention of the audit ledger, in days (the supervisor's `AUDIT_MAX_AGE_DAYS`). */
export const AUDIT_DEFAULT_MAX_AGE_DAYS = 365;

/** Audit entries waiting to be chained (work queue: an entry is removed once chained). */
export const AUDIT_IN_STREAM: StreamSpec = {
  name: "BATON_AUDIT_IN",
  subjects: [auditSubjects.inAll],
  retention: "workqueue",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 0,
  maxMsgsPerSubject: -1,
};

/**
 * The chain, kept {@link AUDIT_DEFAULT_MAX_AGE_DAYS} days unless the supervisor's
 * `AUDIT_MAX_AGE_DAYS` says otherwise ({@link auditStreamSpec}). Single messages cannot be deleted
 * nor the stream purged through the API (`deny_delete`, `deny_purge`; the server refuses to turn
 * them off again). Provisioning by other services leaves an existing stream's max age alone.
 */
export const AUDIT_STREAM: StreamSpec = {
  name: "BATON_AUDIT",
  subjects: [auditSubjects.logAll],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: AUDIT_DEFAULT_MAX_AGE_DAYS * DAY,
  maxMsgsPerSubject: -1,
  denyDelete: true,
  denyPurge: true,
  keepExistingMaxAge: true,
};

/** {@link AUDIT_STREAM} with a retention of `maxAgeDays`, applied to an existing stream too (the chainer's). */
export function auditStreamSpec(maxAgeDays: number): StreamSpec {
  return { ...AUDIT_STREAM, maxAgeMs: maxAgeDays * DAY, keepExistingMaxAge: false };
}

/** The chainer's consumer of entries, shared by every supervisor replica. */
export const AUDIT_CHAINER_CONSUMER: ConsumerSpec = {
  stream: AUDIT_IN_STREAM.name,
  durable: "audit-chainer",
  filterSubject: auditSubjects.inAll,
  ackWaitMs: 30_000,
  maxDeliver: 20,
  maxAckPending: 256,
};
