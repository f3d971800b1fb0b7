import { sleep } from "@baton/core";
import type { ManagedService } from "./processes.ts";

/** One SIGKILL the killer sent. */
export interface Kill {
  readonly label: string;
  readonly pid: number;
  /** The killed process's SERVICE instance id (from its log), to match effect-ledger claims. */
  readonly instance: string | undefined;
  /** ms since the killer started. */
  readonly atMs: number;
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
  /** Called after each kill (e.g. to log it). */
  readonly onKill?: (kill: Kill) => void;
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
  const started = Date.now();
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
      const instance = victim.current?.logs.find((l) => typeof l.instance === "string")?.instance as string | undefined;
      const pid = await victim.kill();
      if (pid === undefined) continue;
      const kill = { label: victim.label, pid, instance, atMs: Date.now() - started };
      kills.push(kill);
      options.onKill?.(kill);
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
