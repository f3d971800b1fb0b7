import { createHash, randomUUID } from "node:crypto";
import { AuditEntry, type AuditKind, type AuditSource, auditSubjects, type RiskTier, type ToolCallAuditDetails } from "@baton/contracts";
import { type Logger, publishMessage, redact, type ServiceContext } from "@baton/core";
import type { JetStreamClient } from "@nats-io/jetstream";
import { argsSha256 } from "./canonical.ts";

/**
 * A deterministic entry id (a UUID, version 8 of RFC 9562) derived from `parts` by SHA-256: the
 * same fact gives the same id in every process and on every redelivery, so it is chained once.
 * E.g. `auditId("submission", taskId)`, `auditId("tool_call", taskId, stepId, String(attempt), String(callIndex))`.
 */
export function auditId(...parts: readonly string[]): string {
  const hex = createHash("sha256")
    .update(JSON.stringify(["baton-audit", ...parts]))
    .digest("hex");
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** What a producer says happened; the trail fills in `schemaVersion`, `id`, `at` and `actor` when absent. */
export interface AuditInput {
  readonly kind: AuditKind;
  readonly taskId?: string;
  readonly stepId?: string;
  readonly agent?: string;
  /** A small JSON object (at most 8 KiB as JSON); redacted before publishing. */
  readonly details?: Record<string, unknown>;
  /** Default: the trail's actor. */
  readonly actor?: string;
  /** The idempotency key (a UUID); default a new one. Give the same id when re-publishing the same fact. */
  readonly id?: string;
  /** Default: now. */
  readonly at?: Date | string;
}

/** One tool call, as a worker audits it ({@link toolCallDetails}). */
export interface ToolCallInput {
  readonly tool: string;
  readonly riskTier: RiskTier;
  /** The worker instance that ran it. */
  readonly worker: string;
  /** The arguments the tool ran with: hashed always, kept (redacted) only with `includeArgs`. */
  readonly args: unknown;
  readonly effectId?: string;
  readonly status: ToolCallAuditDetails["status"];
  /** The error code when it failed. */
  readonly code?: string;
  readonly durationMs: number;
}

/**
 * The `details` of a `tool_call` entry: tool, risk tier, worker, SHA-256 of the canonical JSON of
 * the arguments (unredacted, so it matches the call), the arguments themselves (redacted) only
 * when `includeArgs`, effect id, status, error code and duration.
 */
export function toolCallDetails(call: ToolCallInput, options: { includeArgs?: boolean } = {}): ToolCallAuditDetails {
  return {
    tool: call.tool,
    riskTier: call.riskTier,
    worker: call.worker,
    argsSha256: argsSha256(call.args),
    ...(options.includeArgs && call.args !== null && typeof call.args === "object" && !Array.isArray(call.args)
      ? { args: redact(call.args as Record<string, never>) }
      : {}),
    ...(call.effectId ? { effectId: call.effectId } : {}),
    status: call.status,
    ...(call.code ? { code: call.code } : {}),
    durationMs: Math.max(0, Math.round(call.durationMs)),
  };
}

/** Options of {@link AuditTrail}. */
export interface AuditTrailOptions {
  /**
   * The role this producer publishes as: the subject is `audit.in.<source>`, and NATS permissions
   * decide who may publish there. The chain records the role from the subject, not from the entry.
   */
  readonly source: AuditSource;
  /** Default `actor` of the entries: the service instance (`service.instanceId`) or the user. */
  readonly actor: string;
  readonly logger?: Logger;
  /** Keep tool-call arguments (redacted) in `tool_call` details; default false (only their SHA-256). */
  readonly includeArgs?: boolean;
}

/** A published entry: its id and where the input stream stored it. */
export interface AuditPublished {
  readonly id: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

/**
 * A producer's handle on the audit ledger. {@link record} publishes an entry on
 * `audit.in.<source>` without blocking the caller (a failure is logged, never thrown);
 * {@link publish} waits for the input stream's ack (for short-lived processes like the CLI);
 * {@link flush} waits for what `record` has in flight (call it at shutdown). The supervisor's
 * chainer appends the entries to the chain.
 */
export class AuditTrail {
  readonly #js: JetStreamClient;
  readonly #options: AuditTrailOptions;
  readonly #pending = new Set<Promise<unknown>>();

  constructor(js: JetStreamClient, options: AuditTrailOptions) {
    this.#js = js;
    this.#options = options;
  }

  /** A trail for a service: its JetStream client, instance id as actor and logger. */
  static forService(service: ServiceContext, source: AuditSource, options: { includeArgs?: boolean } = {}): AuditTrail {
    return new AuditTrail(service.js, {
      source,
      actor: service.instanceId,
      logger: service.logger.child({ component: "audit" }),
      ...options,
    });
  }

  /** Whether `tool_call` details keep the (redacted) arguments. */
  get includeArgs(): boolean {
    return this.#options.includeArgs ?? false;
  }

  /**
   * The entry `input` becomes: defaults filled in, details made plain JSON (undefined members
   * dropped, dates as strings) and redacted. Not validated here: publishing validates it.
   */
  entry(input: AuditInput): AuditEntry {
    const at = input.at instanceof Date ? input.at.toISOString() : (input.at ?? new Date().toISOString());
    return {
      schemaVersion: 1,
      id: input.id ?? randomUUID(),
      at,
      kind: input.kind,
      actor: input.actor ?? this.#options.actor,
      ...(input.taskId !== undefined ? { taskId: input.taskId } : {}),
      ...(input.stepId !== undefined ? { stepId: input.stepId } : {}),
      ...(input.agent !== undefined ? { agent: input.agent } : {}),
      details: redact(plainJson(input.details ?? {})),
    };
  }

  /**
   * Publishes an entry without waiting: returns its id at once. An invalid entry or a publish the
   * stream does not ack is logged at error level, never thrown — auditing must not fail the work.
   */
  record(input: AuditInput): string {
    const entry = this.entry(input);
    const pending = this.#publish(entry)
      .catch((error: unknown) =>
        this.#options.logger?.error(
          { err: error, auditId: entry.id, kind: entry.kind, taskId: entry.taskId },
          "could not publish an audit entry",
        ),
      )
      .finally(() => this.#pending.delete(pending));
    this.#pending.add(pending);
    return entry.id;
  }

  /** {@link record} for a `tool_call`: details from {@link toolCallDetails} (arguments kept only with `includeArgs`). */
  recordToolCall(call: ToolCallInput & Omit<AuditInput, "kind" | "details">): string {
    const { tool, riskTier, worker, args, effectId, status, code, durationMs, ...rest } = call;
    const details = toolCallDetails(
      { tool, riskTier, worker, args, status, durationMs, ...(effectId ? { effectId } : {}), ...(code ? { code } : {}) },
      { includeArgs: this.includeArgs },
    );
    return this.record({ ...rest, kind: "tool_call", details });
  }

  /**
   * Publishes an entry and waits for the input stream's ack.
   * @throws ValidationError for an invalid entry; the client's errors when no stream acks.
   */
  async publish(input: AuditInput): Promise<AuditPublished> {
    const entry = this.entry(input);
    const ack = await this.#publish(entry);
    return { id: entry.id, seq: ack.seq, duplicate: ack.duplicate };
  }

  /** Waits until every entry {@link record} has in flight is acked or has failed (at most `timeoutMs`, default 5,000). */
  async flush(timeoutMs = 5_000): Promise<void> {
    if (this.#pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  #publish(entry: AuditEntry) {
    return publishMessage(this.#js, auditSubjects.in(this.#options.source), AuditEntry, entry, {
      msgId: `audit-${entry.id}`,
      template: "audit.in.{source}",
    });
  }
}

/** `value` as plain JSON: undefined members dropped, dates and other `toJSON` values as JSON gives them. */
function plainJson(value: Record<string, unknown>): AuditEntry["details"] {
  return JSON.parse(JSON.stringify(value)) as AuditEntry["details"];
}
