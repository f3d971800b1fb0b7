import { ApprovalRecord, KV_BUCKETS } from "@baton/contracts";
import { openKv } from "@baton/core";
import { applyDecision, type DecisionDeps } from "./decisions.ts";

/** Who an expiry is recorded as having decided. */
export const EXPIRY_APPROVER = "baton:approval-timeout";

/**
 * Denies approvals nobody decided by their `expiresAt`. Watches the bucket `baton_approvals`
 * (its current records first, then every change), so a restarted supervisor re-arms every open
 * approval, and every replica arms them (compare-and-set on task state lets one expiry win).
 */
export class ApprovalExpiry {
  readonly #deps: DecisionDeps;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #stop: (() => void) | undefined;

  private constructor(deps: DecisionDeps) {
    this.#deps = deps;
  }

  /** Starts watching; resolves once the watch is set up (its first records may still be arriving). */
  static async start(deps: DecisionDeps): Promise<ApprovalExpiry> {
    const expiry = new ApprovalExpiry(deps);
    const kv = await openKv(deps.service.nc, KV_BUCKETS.approvals);
    const watch = await kv.watch();
    expiry.#stop = () => watch.stop();
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation !== "PUT") {
          expiry.#clear(entry.key);
          continue;
        }
        const parsed = ApprovalRecord.safeParse(entry.json());
        if (!parsed.success) {
          deps.service.logger.warn({ key: entry.key }, "invalid approval record skipped");
          continue;
        }
        if (parsed.data.status === "pending") expiry.#arm(parsed.data);
        else expiry.#clear(entry.key);
      }
    })().catch((error: unknown) => deps.service.logger.error({ err: error }, "approval expiry watch ended"));
    return expiry;
  }

  /** How many open approvals have a timer. */
  get armed(): number {
    return this.#timers.size;
  }

  #arm(record: ApprovalRecord): void {
    if (this.#timers.has(record.approvalId)) return;
    const delay = Math.max(0, Math.min(Date.parse(record.expiresAt) - Date.now(), 2 ** 31 - 1));
    const timer = setTimeout(() => {
      this.#timers.delete(record.approvalId);
      this.#expire(record).catch((error: unknown) => {
        // Retry soon: an approval left open past its expiry would hold the task until its deadline.
        this.#deps.service.logger.error({ err: error, approvalId: record.approvalId }, "could not expire an approval; retrying in 1 s");
        setTimeout(() => this.#arm(record), 1_000).unref();
      });
    }, delay);
    timer.unref();
    this.#timers.set(record.approvalId, timer);
  }

  async #expire(record: ApprovalRecord): Promise<void> {
    const waitedMs = Date.parse(record.expiresAt) - Date.parse(record.requestedAt);
    await applyDecision(
      this.#deps,
      {
        schemaVersion: 1,
        approvalId: record.approvalId,
        decision: "deny",
        approver: EXPIRY_APPROVER,
        comment: `no decision within ${waitedMs} ms`,
        decidedAt: new Date().toISOString(),
      },
      this.#deps.service.logger,
      true,
    );
  }

  #clear(approvalId: string): void {
    clearTimeout(this.#timers.get(approvalId));
    this.#timers.delete(approvalId);
  }

  stop(): void {
    this.#stop?.();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
