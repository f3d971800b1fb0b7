import { ApprovalRecord, ApprovalRequest, KV_BUCKETS, subjects } from "@baton/contracts";
import { type AuditTrail, auditId } from "@baton/audit";
import { type Logger, openKv, publishMessage, type ServiceContext } from "@baton/core";
import type { ApprovalChange } from "./gate.ts";

type KV = Awaited<ReturnType<typeof openKv>>;

/**
 * The supervisor's book of approvals: each request recorded in the KV bucket `baton_approvals`
 * (key = approval id, value an {@link ApprovalRecord}), published on `approvals.requests.<id>`
 * (kept in BATON_APPROVALS, `Nats-Msg-Id` `approval-<id>`, so a replay publishes it once) and
 * audited; each closing (decided, expired, withdrawn) recorded and audited.
 */
export class ApprovalBook {
  readonly #service: ServiceContext;
  readonly #kv: KV;
  readonly #audit: AuditTrail;

  private constructor(service: ServiceContext, kv: KV, audit: AuditTrail) {
    this.#service = service;
    this.#kv = kv;
    this.#audit = audit;
  }

  static async open(service: ServiceContext, audit: AuditTrail): Promise<ApprovalBook> {
    return new ApprovalBook(service, await openKv(service.nc, KV_BUCKETS.approvals), audit);
  }

  /** The record of `approvalId`, or undefined (unknown, expired from the bucket, or unreadable). */
  async get(approvalId: string): Promise<ApprovalRecord | undefined> {
    const entry = await this.#kv.get(approvalId);
    if (!entry || entry.operation !== "PUT") return undefined;
    const parsed = ApprovalRecord.safeParse(entry.json());
    return parsed.success ? parsed.data : undefined;
  }

  /** Carries out a transition's approval changes, in order. */
  async apply(changes: readonly ApprovalChange[], log: Logger): Promise<void> {
    for (const change of changes) {
      if (change.type === "open") await this.#open(change.request, log);
      else await this.#close(change, log);
    }
  }

  async #open(request: ApprovalRequest, log: Logger): Promise<void> {
    const existing = await this.get(request.approvalId);
    // A replay must not reopen an approval that was decided meanwhile.
    if (!existing) {
      const record: ApprovalRecord = { ...request, status: "pending" };
      await this.#kv.put(request.approvalId, JSON.stringify(ApprovalRecord.parse(record)));
    }
    await publishMessage(this.#service.js, subjects.approvalRequest(request.approvalId), ApprovalRequest, request, {
      msgId: `approval-${request.approvalId}`,
      template: "approvals.requests.{approvalId}",
    });
    this.#audit.record({
      id: auditId("approval_requested", request.approvalId),
      kind: "approval_requested",
      taskId: request.taskId,
      stepId: request.stepId,
      agent: request.agent,
      details: {
        approvalId: request.approvalId,
        calls: request.calls.map((c) => ({ tool: c.tool, riskTier: c.riskTier, argsSha256: c.argsHash })),
        reason: request.reason,
        expiresAt: request.expiresAt,
      },
    });
    log.info({ approvalId: request.approvalId, tools: request.calls.map((c) => c.tool) }, "approval requested");
  }

  async #close(change: Extract<ApprovalChange, { type: "close" }>, log: Logger): Promise<void> {
    const existing = await this.get(change.approvalId);
    if (existing) {
      const record: ApprovalRecord = { ...existing, status: change.status, ...(change.decision ? { decision: change.decision } : {}) };
      await this.#kv.put(change.approvalId, JSON.stringify(record));
    }
    this.#audit.record({
      id: auditId("approval_decided", change.approvalId),
      kind: "approval_decided",
      ...(existing ? { taskId: existing.taskId, stepId: existing.stepId, agent: existing.agent } : {}),
      ...(change.decision && change.status !== "expired" ? { actor: change.decision.approver } : {}),
      details: {
        approvalId: change.approvalId,
        status: change.status,
        ...(change.decision
          ? {
              decision: change.decision.decision,
              approver: change.decision.approver,
              ...(change.decision.comment ? { comment: change.decision.comment } : {}),
              decidedAt: change.decision.decidedAt,
            }
          : {}),
      },
    });
    log.info({ approvalId: change.approvalId, status: change.status }, "approval closed");
  }
}
