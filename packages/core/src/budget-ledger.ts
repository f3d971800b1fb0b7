import { BudgetLedger, KV_BUCKETS, type TaskBudget } from "@baton/contracts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { BatonError, TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { openKv } from "./provision.ts";

/** Spending of one LLM call: tokens and USD. */
export interface Spend {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
}

/** A task's budget, as seen by one caller: check before spending, record after. */
export interface BudgetGuard {
  /** @throws BatonError `BUDGET_EXCEEDED` (not retryable) when the task is over a limit or past its deadline. */
  check(): Promise<void>;
  /** Adds `spend` to the task's ledger (compare-and-set); marks the task exceeded when it crosses a limit. */
  record(spend: Spend): Promise<void>;
}

/**
 * Per-task budgets in the KV bucket `baton_budgets`, shared by every service and replica: a
 * ledger per task with its limits, deadline and spending so far. Writes are compare-and-set
 * on the revision, so concurrent workers of one task add up exactly.
 */
export class BudgetLedgers {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
  }

  static async open(nc: NatsConnection): Promise<BudgetLedgers> {
    return new BudgetLedgers(await openKv(nc, KV_BUCKETS.budgets));
  }

  /**
   * Creates a task's ledger; an existing ledger is kept. `acceptedAt` starts the wall clock.
   * @returns true when this call created it (an atomic claim of the taskId), false when it existed.
   */
  async create(taskId: string, limits: TaskBudget, acceptedAt: Date): Promise<boolean> {
    const ledger: BudgetLedger = {
      schemaVersion: 1,
      taskId,
      limits,
      ...(limits.maxWallTimeMs ? { deadlineAt: new Date(acceptedAt.getTime() + limits.maxWallTimeMs).toISOString() } : {}),
      used: { inputTokens: 0, outputTokens: 0, costUsd: 0, llmCalls: 0 },
    };
    try {
      await this.#kv.create(taskId, JSON.stringify(ledger));
      return true;
    } catch (error) {
      if (!isWrongSequence(error)) throw new TransientError(`could not create the budget ledger of ${taskId}`, error);
      return false;
    }
  }

  /** The ledger, or undefined for a task without one (then nothing is limited). */
  async get(taskId: string): Promise<{ ledger: BudgetLedger; revision: number } | undefined> {
    const entry = await this.#kv.get(taskId);
    if (!entry || entry.operation !== "PUT") return undefined;
    return { ledger: BudgetLedger.parse(entry.json()), revision: entry.revision };
  }

  /** Why the task is over budget now, or undefined when it is not. */
  async overBudget(taskId: string, now = new Date()): Promise<string | undefined> {
    const current = await this.get(taskId);
    return current ? exceededReason(current.ledger, now) : undefined;
  }

  /** A guard for one task, for workers, the planner and the synthesizer. */
  guard(taskId: string): BudgetGuard {
    return {
      check: async () => {
        const reason = await this.overBudget(taskId);
        if (reason) throw new BatonError("BUDGET_EXCEEDED", `task ${taskId} is over budget: ${reason}`, { retryable: false });
      },
      record: (spend) => this.#record(taskId, spend),
    };
  }

  async #record(taskId: string, spend: Spend): Promise<void> {
    for (let attempt = 0; attempt < 30; attempt++) {
      const current = await this.get(taskId);
      if (!current) return;
      const { ledger } = current;
      const next: BudgetLedger = {
        ...ledger,
        used: {
          inputTokens: ledger.used.inputTokens + spend.inputTokens,
          outputTokens: ledger.used.outputTokens + spend.outputTokens,
          costUsd: ledger.used.costUsd + spend.costUsd,
          llmCalls: ledger.used.llmCalls + 1,
        },
      };
      const reason = ledger.exceeded ?? exceededReason(next, new Date());
      if (reason) next.exceeded = reason;
      try {
        await this.#kv.update(taskId, JSON.stringify(next), current.revision);
        return;
      } catch (error) {
        if (!isWrongSequence(error)) throw new TransientError(`could not record spending of ${taskId}`, error);
      }
    }
    throw new TransientError(`budget ledger of ${taskId}: too many concurrent updates`);
  }
}

/** True when a task has any budget limit (tokens, USD or wall time): only then is its ledger worth reading. */
export function hasBudget(state: { budget?: TaskBudget | undefined }): boolean {
  const b = state.budget;
  return b !== undefined && (b.maxTokens !== undefined || b.maxCostUsd !== undefined || b.maxWallTimeMs !== undefined);
}

/** Which limit a ledger is over, in words; undefined when within every limit. */
export function exceededReason(ledger: BudgetLedger, now: Date): string | undefined {
  if (ledger.exceeded) return ledger.exceeded;
  const { limits, used } = ledger;
  const tokens = used.inputTokens + used.outputTokens;
  if (limits.maxTokens !== undefined && tokens >= limits.maxTokens) return `${tokens} tokens used of ${limits.maxTokens}`;
  if (limits.maxCostUsd !== undefined && used.costUsd >= limits.maxCostUsd) {
    return `$${used.costUsd.toFixed(4)} spent of $${limits.maxCostUsd}`;
  }
  if (ledger.deadlineAt && now.getTime() > Date.parse(ledger.deadlineAt)) {
    return `wall time of ${limits.maxWallTimeMs} ms passed at ${ledger.deadlineAt}`;
  }
  return undefined;
}
