import { KV_BUCKETS } from "@baton/contracts";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { sleep } from "./backoff.ts";
import { BatonError, TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { openKv } from "./provision.ts";

/**
 * One effect's record in the KV bucket `baton_effects`, keyed by the effect id. A claim taken over
 * from an owner that never recorded a result names that owner in `takenOverFrom`.
 */
type EffectRecord =
  | { state: "started"; owner: string; startedAt: string; taskId: string; stepId: string; tool: string; takenOverFrom?: string }
  | {
      state: "done";
      owner: string;
      startedAt: string;
      finishedAt: string;
      taskId: string;
      stepId: string;
      tool: string;
      takenOverFrom?: string;
      output: unknown;
    };

/**
 * Per-call options of {@link KvEffectLedger.run}. Structurally the same as `EffectRunOptions` of
 * @baton/tools (which depends on this package, not the other way round).
 */
export interface KvEffectRunOptions {
  /**
   * The effect can be repeated safely because it carries the effect id as an idempotency key to
   * the system it changes (which recognises a repeat). A claim in doubt is then taken over —
   * compare-and-set on its KV revision, so exactly one waiting caller wins — and the effect is
   * run again under the new claim, instead of failing with `EFFECT_IN_DOUBT`. Default false.
   */
  readonly repeatInDoubt?: boolean;
  /**
   * How long this call waits for another owner's result before the claim is in doubt, in ms,
   * measured from the claim's `startedAt`. Only shortens the ledger's own limit (`inDoubtAfterMs`
   * of {@link KvEffectLedger.open}), never lengthens it.
   */
  readonly inDoubtAfterMs?: number;
}

/** What {@link KvEffectLedger.run} returns. */
export interface KvEffectRun {
  readonly output: unknown;
  /** True when another caller ran the effect and this one got its recorded output. */
  readonly replayed: boolean;
  /** True when this caller took over a claim in doubt and ran the effect again (`repeatInDoubt`). */
  readonly repeated?: boolean;
}

/**
 * The effect ledger of non-idempotent tools, in the KV bucket `baton_effects` (shared by every
 * replica): claim with `create` (compare-and-set), run, record the output. A redelivered step
 * gets the recorded output instead of a second side effect. A claim whose owner never recorded a
 * result is in doubt after a while: the call fails with `EFFECT_IN_DOUBT`, unless the effect
 * carries an idempotency key to the system it changes (`repeatInDoubt`), in which case one waiting
 * caller takes the claim over and repeats it. Structurally implements `EffectLedger` of @baton/tools.
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
   * it); a claim that outlives `inDoubtAfterMs` (or the shorter `options.inDoubtAfterMs`) without
   * a result is in doubt: with `options.repeatInDoubt` one waiting caller takes the claim over and
   * runs `effect` again (`repeated: true`), otherwise the call fails.
   * @throws BatonError `EFFECT_IN_DOUBT` (not retryable) for a claim in doubt without
   *   `repeatInDoubt`; TransientError when KV is unreachable or the claim was released while
   *   waiting (retry the step); whatever `effect` throws.
   */
  async run(
    id: string,
    key: { taskId: string; stepId: string; tool: string },
    effect: () => Promise<unknown>,
    options: KvEffectRunOptions = {},
  ): Promise<KvEffectRun> {
    const startedAt = new Date().toISOString();
    let claim: EffectRecord = { state: "started", owner: this.#owner, startedAt, taskId: key.taskId, stepId: key.stepId, tool: key.tool };
    let claimed = false;
    try {
      await this.#kv.create(id, JSON.stringify(claim));
      claimed = true;
    } catch (error) {
      if (!isWrongSequence(error)) throw new TransientError(`effect ledger unreachable for ${key.tool}`, error);
    }
    let repeated = false;
    if (!claimed) {
      const limitMs = Math.min(this.#inDoubtAfterMs, options.inDoubtAfterMs ?? Number.POSITIVE_INFINITY);
      const waited = await this.#awaitRecorded(id, key, limitMs, options.repeatInDoubt === true);
      if (waited.recorded) return { output: waited.output, replayed: true };
      claim = waited.claim;
      repeated = true;
    }
    let output: unknown;
    try {
      output = await effect();
    } catch (error) {
      await this.#kv.delete(id).catch(() => undefined);
      throw error;
    }
    const done: EffectRecord = { ...claim, state: "done", finishedAt: new Date().toISOString(), output: output ?? null };
    await this.#kv.put(id, JSON.stringify(done));
    return repeated ? { output, replayed: false, repeated: true } : { output, replayed: false };
  }

  /**
   * Waits for another claim's result. Once the claim is older than `limitMs`: takes it over when
   * `takeOver` (a compare-and-set on the entry's revision: a caller that loses the race goes on
   * waiting, now for the winner's claim), else throws EFFECT_IN_DOUBT.
   */
  async #awaitRecorded(
    id: string,
    key: { taskId: string; stepId: string; tool: string },
    limitMs: number,
    takeOver: boolean,
  ): Promise<{ recorded: true; output: unknown } | { recorded: false; claim: EffectRecord }> {
    const tool = key.tool;
    for (;;) {
      const entry = await this.#kv.get(id);
      if (!entry || entry.operation !== "PUT") {
        throw new TransientError(`the claim on ${tool}'s effect was released; retry`);
      }
      const record = entry.json<EffectRecord>();
      if (record.state === "done") return { recorded: true, output: record.output };
      const age = Date.now() - Date.parse(record.startedAt);
      if (age > limitMs && takeOver) {
        const claim: EffectRecord = {
          state: "started",
          owner: this.#owner,
          startedAt: new Date().toISOString(),
          taskId: key.taskId,
          stepId: key.stepId,
          tool,
          takenOverFrom: record.owner,
        };
        try {
          await this.#kv.update(id, JSON.stringify(claim), entry.revision);
          return { recorded: false, claim };
        } catch (error) {
          if (!isWrongSequence(error)) throw new TransientError(`effect ledger unreachable for ${tool}`, error);
          continue; // another caller took it over (or the owner recorded): read again
        }
      }
      if (age > limitMs) {
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
