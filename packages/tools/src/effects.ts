import { createHash } from "node:crypto";

/** Identifies one side effect: the same task, step, tool and arguments are the same effect. */
export interface EffectKey {
  readonly taskId: string;
  readonly stepId: string;
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

/**
 * Where the effects of non-idempotent tools are recorded, so that a redelivered step reuses the
 * recorded result instead of running the side effect again (at most once per {@link EffectKey}).
 */
export interface EffectLedger {
  /**
   * Runs `effect` once per `id` (see {@link effectId}): the first caller claims the id, runs it
   * and records its JSON output; later callers get the recorded output with `replayed: true`.
   * @throws an error with code `EFFECT_IN_DOUBT` (not retryable) when the effect was claimed by
   *   a process that never recorded a result: running it again could do it twice.
   */
  run(id: string, key: EffectKey, effect: () => Promise<unknown>): Promise<{ output: unknown; replayed: boolean }>;
}

/**
 * The ledger key of an effect: SHA-256 (hex) of task, step, tool and the arguments as canonical
 * JSON (object keys sorted), so the same call hashes the same in every process.
 */
export function effectId(key: EffectKey): string {
  return createHash("sha256")
    .update(JSON.stringify([key.taskId, key.stepId, key.tool, canonical(key.args)]))
    .digest("hex");
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, canonical(v)]),
    );
  }
  return value;
}
