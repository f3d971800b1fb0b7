import { KV_BUCKETS } from "@baton/contracts";
import { sleep } from "@baton/core";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ManagedService } from "./processes.ts";

/** One SIGKILL the killer sent. */
export interface Kill {
  readonly label: string;
  readonly pid: number;
  /** The killed process's SERVICE instance id (from its log), to match effect-ledger claims. */
  readonly instance: string | undefined;
  /** ms since the run started (see {@link KillerOptions.startedAt}). */
  readonly atMs: number;
  /** What the kill was timed to (see {@link KillerOptions.beforeKill}). */
  readonly note?: string;
}

/** Options of {@link startKiller}. */
export interface KillerOptions {
  /** Candidates; one that is up is picked per round by `pick` (default: at random). */
  readonly targets: readonly ManagedService[];
  /** Pause before each kill, drawn uniformly from [min, max] ms. */
  readonly intervalMs: readonly [number, number];
  /** Pause between a kill and the restart. Default 0. */
  readonly restartAfterMs?: number;
  /** Picks the next victim among the targets that are up. Default: uniformly at random. */
  readonly pick?: (up: readonly ManagedService[], round: number) => ManagedService | undefined;
  /**
   * Awaited between picking the victim and killing it, e.g. to wait for an event that says the
   * victim is busy right now. Returns a note recorded with the kill.
   */
  readonly beforeKill?: (victim: ManagedService, round: number) => Promise<string | undefined>;
  /** The origin of {@link Kill.atMs}. Default: when the killer starts. */
  readonly startedAt?: number;
}

/** A running killer loop. */
export interface Killer {
  readonly kills: readonly Kill[];
  /** Restarts that failed (the new process did not come up). */
  readonly restartFailures: readonly string[];
  /** Stops killing, waits for the restarts in progress. @returns every kill made. */
  stop(): Promise<readonly Kill[]>;
}

/**
 * SIGKILLs a target that is up every `intervalMs` and restarts it (a new process, same
 * settings) without waiting for it to be ready, so several targets may be down at once.
 */
export function startKiller(options: KillerOptions): Killer {
  const kills: Kill[] = [];
  const restartFailures: string[] = [];
  const restarts = new Set<Promise<void>>();
  const abort = new AbortController();
  const started = options.startedAt ?? Date.now();
  const pick = options.pick ?? ((up) => up[Math.floor(Math.random() * up.length)]);
  const loop = (async () => {
    for (let round = 0; !abort.signal.aborted; round++) {
      const [min, max] = options.intervalMs;
      await sleep(min + Math.random() * (max - min), abort.signal);
      if (abort.signal.aborted) break;
      const victim = pick(
        options.targets.filter((t) => t.up),
        round,
      );
      if (!victim) continue;
      const note = await options.beforeKill?.(victim, round);
      if (abort.signal.aborted) break;
      const instance = victim.current?.logs.find((l) => typeof l.instance === "string")?.instance as string | undefined;
      const pid = await victim.kill();
      if (pid === undefined) continue;
      const kill: Kill = { label: victim.label, pid, instance, atMs: Date.now() - started, ...(note ? { note } : {}) };
      kills.push(kill);
      const restart = (async () => {
        await sleep(options.restartAfterMs ?? 0);
        await victim.start();
      })().catch((error: unknown) => {
        restartFailures.push(`${victim.label}: ${error instanceof Error ? error.message : String(error)}`);
      });
      restarts.add(restart);
      void restart.finally(() => restarts.delete(restart));
    }
  })();
  return {
    kills,
    restartFailures,
    async stop() {
      abort.abort();
      await loop;
      await Promise.all(restarts);
      return kills;
    },
  };
}

/** A running {@link startClaimSniper}. */
export interface ClaimSniper {
  readonly kills: readonly Kill[];
  /** Stops watching, waits for the restarts in progress. */
  stop(): Promise<readonly Kill[]>;
}

/**
 * SIGKILLs the replica that claims a non-idempotent effect of one of `armed` tasks the moment
 * the claim reaches the server (a core subscription on the effect ledger's KV subjects sees the
 * `started` record as it is stored), then restarts it. The kill lands between the claim and the
 * record of the result about half the time: the redelivered step finds the claim in doubt and,
 * after 30 s, fails with EFFECT_IN_DOUBT instead of risking a second effect.
 */
export function startClaimSniper(
  client: { nc: NatsConnection },
  targets: readonly ManagedService[],
  armed: Set<string>,
  startedAt = Date.now(),
): ClaimSniper {
  const kills: Kill[] = [];
  const restarts = new Set<Promise<void>>();
  const instanceOf = (s: ManagedService) => s.current?.logs.find((l) => typeof l.instance === "string")?.instance;
  const sub = client.nc.subscribe(`$KV.${KV_BUCKETS.effects.name}.>`, {
    callback: (_err, msg) => {
      let claim: { state?: string; owner?: string; taskId?: string; stepId?: string };
      try {
        claim = msg.json();
      } catch {
        return; // a delete marker
      }
      if (claim.state !== "started" || !claim.taskId || !armed.has(claim.taskId)) return;
      const victim = targets.find((t) => t.up && instanceOf(t) === claim.owner);
      if (!victim) return;
      armed.delete(claim.taskId);
      const pid = victim.current?.pid ?? -1;
      const killed = victim.kill(); // SIGKILL sent synchronously, in the subscription's callback
      kills.push({
        label: victim.label,
        pid,
        instance: claim.owner,
        atMs: Date.now() - startedAt,
        note: `on its claim of ${claim.taskId} ${claim.stepId}`,
      });
      const restart = killed
        .then(() => victim.start())
        .then(
          () => undefined,
          () => undefined,
        );
      restarts.add(restart);
      void restart.finally(() => restarts.delete(restart));
    },
  });
  return {
    kills,
    async stop() {
      sub.unsubscribe();
      await Promise.all(restarts);
      return kills;
    },
  };
}
