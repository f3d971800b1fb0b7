import { KV_BUCKETS } from "@baton/contracts";
import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { sleep } from "./backoff.ts";
import { BatonError, TransientError } from "./errors.ts";
import { isWrongSequence } from "./kv-cas.ts";
import { connectionWatch, isBrokerUnavailable, retryWhileUnavailable } from "./nats.ts";
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

/** Options of {@link KvEffectLedger.open}. */
export interface KvEffectLedgerOptions {
  /**
   * How long a claim without a result is waited for before the effect is declared in doubt, in
   * ms; default 30,000.
   */
  readonly inDoubtAfterMs?: number;
  /**
   * How long each ledger write (claim, record, release) is retried while the broker is
   * unavailable — a nats-server restart — in ms; default 20,000. An effect that ran is recorded
   * within this time or the call fails with a retryable error (and this process records it when
   * the step comes back to it).
   */
  readonly brokerRetryMs?: number;
  /** Logs retried writes and a claim that could not be released. */
  readonly logger?: Logger;
}

/** An effect that ran here but whose record could not be written yet (the broker was away). */
interface Unrecorded {
  readonly record: EffectRecord & { state: "done" };
  readonly output: unknown;
}

/**
 * The effect ledger of non-idempotent tools, in the KV bucket `baton_effects` (shared by every
 * replica): claim with `create` (compare-and-set), run, record the output. A redelivered step
 * gets the recorded output instead of a second side effect. A claim whose owner never recorded a
 * result is in doubt after a while: the call fails with `EFFECT_IN_DOUBT`, unless the effect
 * carries an idempotency key to the system it changes (`repeatInDoubt`), in which case one waiting
 * caller takes the claim over and repeats it. Structurally implements `EffectLedger` of @baton/tools.
 *
 * Broker outages (a nats-server restart) are transient here, never a failed step: each ledger
 * write is retried for `brokerRetryMs`; a claim whose reply was lost is recognised as this call's
 * own when read back; and an effect that ran but could not be recorded is kept in memory and
 * recorded by this process's next call for it (the step's redelivery), which returns its output
 * as replayed. What still fails is thrown as TransientError (retryable).
 */
export class KvEffectLedger {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #owner: string;
  readonly #inDoubtAfterMs: number;
  readonly #brokerRetryMs: number;
  readonly #logger: Logger | undefined;
  readonly #unrecorded = new Map<string, Unrecorded>();

  private constructor(kv: KV, nc: NatsConnection, owner: string, options: KvEffectLedgerOptions) {
    this.#kv = kv;
    this.#nc = nc;
    this.#owner = owner;
    this.#inDoubtAfterMs = options.inDoubtAfterMs ?? 30_000;
    this.#brokerRetryMs = options.brokerRetryMs ?? 20_000;
    this.#logger = options.logger;
  }

  /**
   * @param owner this process's instance id (recorded with each claim).
   * @param options in-doubt limit (default 30,000 ms; a number is taken as that limit), broker
   *   retry time (default 20,000 ms), logger.
   */
  static async open(nc: NatsConnection, owner: string, options: number | KvEffectLedgerOptions = {}): Promise<KvEffectLedger> {
    const opts = typeof options === "number" ? { inDoubtAfterMs: options } : options;
    return new KvEffectLedger(await openKv(nc, KV_BUCKETS.effects), nc, owner, opts);
  }

  /**
   * Runs `effect` at most once per `id`. A failed effect releases its claim (so a retry may run
   * it); a claim that outlives `inDoubtAfterMs` (or the shorter `options.inDoubtAfterMs`) without
   * a result is in doubt: with `options.repeatInDoubt` one waiting caller takes the claim over and
   * runs `effect` again (`repeated: true`), otherwise the call fails.
   * @throws BatonError `EFFECT_IN_DOUBT` (not retryable) for a claim in doubt without
   *   `repeatInDoubt`; TransientError when KV stays unreachable (even after the effect ran: it is
   *   recorded on the next call) or the claim was released while waiting (retry the step);
   *   whatever `effect` throws.
   */
  async run(
    id: string,
    key: { taskId: string; stepId: string; tool: string },
    effect: () => Promise<unknown>,
    options: KvEffectRunOptions = {},
  ): Promise<KvEffectRun> {
    const pending = this.#unrecorded.get(id);
    if (pending) {
      // It ran here before and the broker was away when it should have been recorded.
      await this.#record(id, pending);
      return { output: pending.output, replayed: true };
    }
    const startedAt = new Date().toISOString();
    let claim: EffectRecord = { state: "started", owner: this.#owner, startedAt, taskId: key.taskId, stepId: key.stepId, tool: key.tool };
    let revision = await this.#claim(id, claim);
    let repeated = false;
    if (revision === undefined) {
      const limitMs = Math.min(this.#inDoubtAfterMs, options.inDoubtAfterMs ?? Number.POSITIVE_INFINITY);
      const waited = await this.#awaitRecorded(id, key, limitMs, options.repeatInDoubt === true);
      if (waited.recorded) return { output: waited.output, replayed: true };
      claim = waited.claim;
      revision = waited.revision;
      repeated = true;
    }
    let output: unknown;
    try {
      output = await effect();
    } catch (error) {
      await this.#release(id, revision, key.tool);
      throw error;
    }
    const done = { ...claim, state: "done" as const, finishedAt: new Date().toISOString(), output: output ?? null };
    await this.#record(id, { record: done, output });
    return repeated ? { output, replayed: false, repeated: true } : { output, replayed: false };
  }

  /**
   * Claims `id` with `claim` (`create`). A create whose reply was lost in a broker outage may
   * have landed: a conflict is then read back, and a claim that is this very one (same owner and
   * start) is ours. @returns the claim's revision, or undefined when another caller holds the key.
   */
  async #claim(id: string, claim: EffectRecord): Promise<number | undefined> {
    for (let round = 0; round < 10; round++) {
      try {
        return await retryWhileUnavailable(() => this.#kv.create(id, JSON.stringify(claim)), {
          what: `claim the effect of ${claim.tool}`,
          forMs: this.#brokerRetryMs,
          nc: this.#nc,
          logger: this.#logger,
        });
      } catch (error) {
        if (!isWrongSequence(error)) {
          if (error instanceof TransientError) throw error;
          throw new TransientError(`effect ledger unreachable for ${claim.tool}`, error);
        }
      }
      const entry = await this.#read(id, claim.tool);
      if (entry?.operation !== "PUT") continue; // released meanwhile: claim again
      const record = entry.json<EffectRecord>();
      const ours = record.state === "started" && record.owner === claim.owner && record.startedAt === claim.startedAt;
      return ours ? entry.revision : undefined;
    }
    throw new TransientError(`the claim on ${claim.tool}'s effect keeps being released; retry`);
  }

  /**
   * Records an effect that ran. Kept in memory until it is written, so that the step's next call
   * here records it (the output is never lost while this process lives).
   * @throws TransientError when the broker stays unavailable for `brokerRetryMs`.
   */
  async #record(id: string, done: Unrecorded): Promise<void> {
    this.#unrecorded.set(id, done);
    await retryWhileUnavailable(() => this.#kv.put(id, JSON.stringify(done.record)), {
      what: `record the effect of ${done.record.tool}`,
      forMs: this.#brokerRetryMs,
      nc: this.#nc,
      logger: this.#logger,
    }).catch((error: unknown) => {
      if (error instanceof TransientError) throw error;
      throw new TransientError(`could not record the effect of ${done.record.tool}`, error);
    });
    this.#unrecorded.delete(id);
  }

  /**
   * Releases this call's claim after its effect failed, so a retry may run it: deleted only while
   * it is still the claim at `revision` (a takeover in the meantime is left alone). A release the
   * broker never confirms is logged: the claim then goes in doubt after `inDoubtAfterMs`.
   */
  async #release(id: string, revision: number, tool: string): Promise<void> {
    try {
      await retryWhileUnavailable(() => this.#kv.delete(id, { previousSeq: revision }), {
        what: `release the claim on ${tool}'s effect`,
        forMs: this.#brokerRetryMs,
        nc: this.#nc,
        logger: this.#logger,
      });
    } catch (error) {
      // Already released by a lost-reply attempt, or taken over: nothing of ours is left to release.
      if (isWrongSequence(error)) return;
      this.#logger?.error(
        { err: error, tool, effectId: id },
        "could not release the claim of a failed effect: a retry waits for it to go in doubt",
      );
    }
  }

  /** Reads the ledger entry of `id`, retried while the broker is unavailable. @throws TransientError. */
  async #read(id: string, tool: string): Promise<KvEntry | null> {
    try {
      return await retryWhileUnavailable(() => this.#kv.get(id), {
        what: `read the effect ledger for ${tool}`,
        forMs: this.#brokerRetryMs,
        nc: this.#nc,
        logger: this.#logger,
      });
    } catch (error) {
      if (error instanceof TransientError) throw error;
      throw new TransientError(`effect ledger unreachable for ${tool}`, error);
    }
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
  ): Promise<{ recorded: true; output: unknown } | { recorded: false; claim: EffectRecord; revision: number }> {
    const tool = key.tool;
    /** A takeover whose reply was lost: it is ours if the entry read next is this very claim. */
    let attempted: EffectRecord | undefined;
    for (;;) {
      const entry = await this.#read(id, tool);
      if (!entry || entry.operation !== "PUT") {
        throw new TransientError(`the claim on ${tool}'s effect was released; retry`);
      }
      const record = entry.json<EffectRecord>();
      if (record.state === "done") return { recorded: true, output: record.output };
      if (attempted && record.owner === attempted.owner && record.startedAt === attempted.startedAt) {
        return { recorded: false, claim: attempted, revision: entry.revision };
      }
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
          const revision = await this.#kv.update(id, JSON.stringify(claim), entry.revision);
          return { recorded: false, claim, revision };
        } catch (error) {
          if (isBrokerUnavailable(error)) {
            attempted = claim;
            this.#logger?.warn({ err: error, tool }, "effect ledger unreachable while taking over a claim; reading it again");
            await connectionWatch(this.#nc).whenConnected(this.#brokerRetryMs);
            continue;
          }
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
