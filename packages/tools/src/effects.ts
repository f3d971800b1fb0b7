import { argsHash, canonicalJson, sha256Hex } from "@baton/contracts";

/** Identifies one side effect: the same task, step, tool and arguments are the same effect. */
export interface EffectKey {
  readonly taskId: string;
  readonly stepId: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

/** Per-call options of {@link EffectLedger.run}. */
export interface EffectRunOptions {
  /**
   * The effect may be repeated safely: the tool passes the effect id to the system it changes as
   * an idempotency key (`usesIdempotencyKey`), and that system recognises a repeat. A claim in
   * doubt is then taken over (compare-and-set, so one caller wins) and the effect run again with
   * the same key, instead of failing with `EFFECT_IN_DOUBT`. Default false.
   */
  readonly repeatInDoubt?: boolean;
  /**
   * How long to wait for another owner's result before its claim is in doubt, in ms from the
   * claim's start; only shortens the ledger's own limit (30,000 ms for `KvEffectLedger`).
   */
  readonly inDoubtAfterMs?: number;
}

/**
 * Where the effects of non-idempotent tools are recorded, so that a redelivered step reuses the
 * recorded result instead of running the side effect again (at most once per {@link EffectKey}).
 */
export interface EffectLedger {
  /**
   * Runs `effect` once per `id` (see {@link effectId}): the first caller claims the id, runs it
   * and records its JSON output; later callers get the recorded output with `replayed: true`.
   * With `options.repeatInDoubt`, a claim in doubt is taken over and `effect` runs again
   * (`repeated: true`).
   * @throws an error with code `EFFECT_IN_DOUBT` (not retryable) when the effect was claimed by
   *   a process that never recorded a result and `repeatInDoubt` is not set: running it again
   *   could do it twice.
   */
  run(
    id: string,
    key: EffectKey,
    effect: () => Promise<unknown>,
    options?: EffectRunOptions,
  ): Promise<{ output: unknown; replayed: boolean; repeated?: boolean }>;
}

/**
 * The ledger key of an effect: SHA-256 (hex) of task, step, tool and the arguments as canonical
 * JSON (object keys sorted), so the same call hashes the same in every process.
 */
export function effectId(key: EffectKey): string {
  return sha256Hex(canonicalJson([key.taskId, key.stepId, key.tool, key.args]));
}

export { argsHash };
