import { KV_BUCKETS } from "@baton/contracts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { sleep } from "./backoff.ts";
import { BatonError, TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { openKv } from "./provision.ts";

/** One effect's record in the KV bucket `baton_effects`, keyed by the effect id. */
type EffectRecord =
  | { state: "started"; owner: string; startedAt: string; taskId: string; stepId: string; tool: string }
  | { state: "done"; owner: string; startedAt: string; finishedAt: string; taskId: string; stepId: string; tool: string; output: unknown };

/**
 * The effect ledger of non-idempotent tools, in the KV bucket `baton_effects` (shared by every
 * replica): claim with `create` (compare-and-set), run, record the output. A redelivered step
 * gets the recorded output instead of a second side effect. Structurally implements
 * `EffectLedger` of @baton/tools.
 */
export class KvEffectLedger {
  readonly #kv: KV;
  readonly #owner: string;
  readonly #inDoubtAfterMs: number;

  private constructor(kv: KV, owner: string, inDoubtAfterMs: number) {
    this.#kv = kv;
    this.#owner = owner;
    this.#inDoubtAfterMs = inDoubtAfterMs;
  }

  /**
   * @param owner this process's instance id (recorded with each claim).
   * @param inDoubtAfterMs how long a claim without a result is waited for before the effect is
   *   declared in doubt; default 30,000 ms.
   */
  static async open(nc: NatsConnection, owner: string, inDoubtAfterMs = 30_000): Promise<KvEffectLedger> {
    return new KvEffectLedger(await openKv(nc, KV_BUCKETS.effects), owner, inDoubtAfterMs);
  }

  /**
   * Runs `effect` at most once per `id`. A failed effect releases its claim (so a retry may run
   * it); a claim that outlives `inDoubtAfterMs` without a result is in doubt.
   * @throws BatonError `EFFECT_IN_DOUBT` (not retryable); TransientError when KV is unreachable;
   *   whatever `effect` throws.
   */
  async run(
    id: string,
    key: { taskId: string; stepId: string; tool: string },
    effect: () => Promise<unknown>,
  ): Promise<{ output: unknown; replayed: boolean }> {
    const startedAt = new Date().toISOString();
    const claim: EffectRecord = { state: "started", owner: this.#owner, startedAt, taskId: key.taskId, stepId: key.stepId, tool: key.tool };
    let claimed = false;
    try {
      await this.#kv.create(id, JSON.stringify(claim));
      claimed = true;
    } catch (error) {
      if (!isWrongSequence(error)) throw new TransientError(`effect ledger unreachable for ${key.tool}`, error);
    }
    if (!claimed) return { output: await this.#awaitRecorded(id, key.tool), replayed: true };
    let output: unknown;
    try {
      output = await effect();
    } catch (error) {
      await this.#kv.delete(id).catch(() => undefined);
      throw error;
    }
    const done: EffectRecord = { ...claim, state: "done", finishedAt: new Date().toISOString(), output: output ?? null };
    await this.#kv.put(id, JSON.stringify(done));
    return { output, replayed: false };
  }

  /** Waits for another claim's result; throws EFFECT_IN_DOUBT once the claim is too old. */
  async #awaitRecorded(id: string, tool: string): Promise<unknown> {
    for (;;) {
      const entry = await this.#kv.get(id);
      if (!entry || entry.operation !== "PUT") {
        throw new TransientError(`the claim on ${tool}'s effect was released; retry`);
      }
      const record = entry.json<EffectRecord>();
      if (record.state === "done") return record.output;
      const age = Date.now() - Date.parse(record.startedAt);
      if (age > this.#inDoubtAfterMs) {
        throw new BatonError(
          "EFFECT_IN_DOUBT",
          `${tool} was started by ${record.owner} at ${record.startedAt} and never recorded a result; not running it again (it may have happened)`,
          { retryable: false },
        );
      }
      await sleep(200);
    }
  }
}
