import { AGENT_REPLICA_TTL_MS, AgentCard, AgentReplica, KV_BUCKETS } from "@baton/contracts";
import type { KV, KvEntry } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { sleep } from "./backoff.ts";
import { TransientError } from "./errors.ts";
import { retryWhileUnavailable } from "./nats.ts";
import { openKv } from "./provision.ts";

/** A registered agent type: its card and its live replicas (possibly none). */
export interface RegisteredAgent {
  readonly card: AgentCard;
  /** Replicas whose last heartbeat is at most {@link AGENT_REPLICA_TTL_MS} old, by instance id. */
  readonly replicas: readonly AgentReplica[];
}

/** Options of {@link AgentRegistry.open}. */
export interface AgentRegistryOptions {
  readonly logger?: Logger;
  /** Full re-read of both buckets, a safety net for changes a watch missed (e.g. across a reconnect), in ms. Default 30,000. */
  readonly refreshMs?: number;
  /** Clock for liveness checks (tests). Default `Date.now`. */
  readonly now?: () => number;
}

interface Seen<T> {
  readonly value: T;
  readonly revision: number;
  /** The server's timestamp of the entry, in ms since the epoch. */
  readonly at: number;
}

/**
 * What the workers registered: the agent cards in `baton_agents` and the replica heartbeats in
 * `baton_agent_replicas`, kept in memory by two KV watches (plus a periodic full re-read), so
 * lookups cost no round trip. A replica is live while its last heartbeat, by the server's
 * timestamp, is at most {@link AGENT_REPLICA_TTL_MS} old. Invalid cards and records are skipped
 * with a warning. A watch that ends (the client gives up re-creating its consumer across a long
 * broker outage) is started again, with a full re-read, until the registry is closed.
 */
export class AgentRegistry {
  readonly #nc: NatsConnection;
  readonly #cardsKv: KV;
  readonly #replicasKv: KV;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #cards = new Map<string, Seen<AgentCard>>();
  readonly #replicas = new Map<string, Seen<AgentReplica>>();
  readonly #stops: (() => void)[] = [];
  #closed = false;

  private constructor(nc: NatsConnection, cardsKv: KV, replicasKv: KV, options: AgentRegistryOptions) {
    this.#nc = nc;
    this.#cardsKv = cardsKv;
    this.#replicasKv = replicasKv;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Opens both buckets (creating them when absent), starts watching them and reads their current
   * contents. @throws the client's error when JetStream is unreachable.
   */
  static async open(nc: NatsConnection, options: AgentRegistryOptions = {}): Promise<AgentRegistry> {
    const registry = new AgentRegistry(nc, await openKv(nc, KV_BUCKETS.agents), await openKv(nc, KV_BUCKETS.agentReplicas), options);
    // Watch first, then read: an update landing during the read is not lost (the newer revision wins).
    await registry.#watch(registry.#cardsKv, KV_BUCKETS.agents.name, (e) => registry.#applyCard(e));
    await registry.#watch(registry.#replicasKv, KV_BUCKETS.agentReplicas.name, (e) => registry.#applyReplica(e));
    await registry.refresh();
    const timer = setInterval(() => {
      registry.refresh().catch((error: unknown) => registry.#logger?.warn({ err: error }, "agent registry refresh failed"));
    }, options.refreshMs ?? 30_000);
    timer.unref();
    registry.#stops.push(() => clearInterval(timer));
    return registry;
  }

  /** Every registered agent, by name. */
  agents(): RegisteredAgent[] {
    return [...this.#cards.keys()]
      .sort()
      .map((name) => this.get(name))
      .filter((a) => a !== undefined);
  }

  /** The names of every registered agent, sorted. */
  names(): string[] {
    return [...this.#cards.keys()].sort();
  }

  /** One registered agent, or undefined. */
  get(name: string): RegisteredAgent | undefined {
    const card = this.#cards.get(name)?.value;
    return card ? { card, replicas: this.liveReplicas(name) } : undefined;
  }

  /**
   * Like {@link get}, but an agent not known yet is read from KV first (its card may have been
   * put an instant ago, before the watch delivered it).
   */
  async lookup(name: string): Promise<RegisteredAgent | undefined> {
    if (!this.#cards.has(name)) {
      let entry: KvEntry | null;
      try {
        entry = await retryWhileUnavailable(() => this.#cardsKv.get(name), {
          what: `read the card of agent ${name}`,
          forMs: 10_000,
          nc: this.#nc,
        });
      } catch (error) {
        if (error instanceof TransientError) throw error;
        throw new TransientError(`could not read the card of agent ${name}`, error);
      }
      if (entry) this.#applyCard(entry);
    }
    return this.get(name);
  }

  /** The live replicas of an agent type. */
  liveReplicas(name: string): AgentReplica[] {
    const cutoff = this.#now() - AGENT_REPLICA_TTL_MS;
    return [...this.#replicas.values()].filter((r) => r.value.agent === name && r.at >= cutoff).map((r) => r.value);
  }

  /** Re-reads both buckets in full; entries gone from KV are dropped. */
  async refresh(): Promise<void> {
    await this.#reread(this.#cardsKv, this.#cards, (e) => this.#applyCard(e));
    await this.#reread(this.#replicasKv, this.#replicas, (e) => this.#applyReplica(e));
  }

  /** Stops the watches and the periodic re-read. */
  close(): void {
    this.#closed = true;
    for (const stop of this.#stops) stop();
  }

  /**
   * Starts watching `kv` (updates only). When the watch ends or fails while the registry is
   * open, it is started again after a pause (1 s, doubling up to 30 s), followed by a full
   * re-read of both buckets for what it missed meanwhile.
   */
  async #watch(kv: KV, bucket: string, apply: (entry: KvEntry) => void): Promise<void> {
    let watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    this.#stops.push(() => watch.stop());
    void (async () => {
      for (let pauseMs = 1_000; !this.#closed; pauseMs = Math.min(30_000, pauseMs * 2)) {
        try {
          for await (const entry of watch) {
            apply(entry);
            pauseMs = 1_000;
          }
          if (this.#closed) return;
          this.#logger?.warn({ bucket }, "agent registry watch ended; starting it again");
        } catch (error) {
          this.#logger?.warn({ err: error, bucket }, "agent registry watch failed; starting it again");
        }
        await sleep(pauseMs);
        if (this.#closed) return;
        try {
          watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
          if (this.#closed) watch.stop();
          else await this.refresh();
        } catch (error) {
          this.#logger?.warn({ err: error, bucket }, "agent registry watch could not start again; retrying");
        }
      }
    })().catch((error: unknown) => this.#logger?.error({ err: error, bucket }, "agent registry watch stopped"));
  }

  async #reread<T>(kv: KV, into: Map<string, Seen<T>>, apply: (entry: KvEntry) => void): Promise<void> {
    const present = new Set<string>();
    for await (const key of await kv.keys()) {
      present.add(key);
      const entry = await kv.get(key);
      if (entry) apply(entry);
    }
    for (const key of into.keys()) if (!present.has(key)) into.delete(key);
  }

  #applyCard(entry: KvEntry): void {
    this.#apply(entry, this.#cards, AgentCard, "agent card");
    // A card is valid only under its own agent's key.
    if (this.#cards.get(entry.key)?.value.agent !== undefined && this.#cards.get(entry.key)?.value.agent !== entry.key) {
      this.#logger?.warn({ key: entry.key }, "agent card under another agent's key skipped");
      this.#cards.delete(entry.key);
    }
  }

  #applyReplica(entry: KvEntry): void {
    this.#apply(entry, this.#replicas, AgentReplica, "agent replica record");
  }

  #apply<T>(
    entry: KvEntry,
    into: Map<string, Seen<T>>,
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
    what: string,
  ): void {
    const known = into.get(entry.key);
    if (known && known.revision > entry.revision) return;
    if (entry.operation !== "PUT") {
      into.delete(entry.key);
      return;
    }
    let parsed: { success: true; data: T } | { success: false };
    try {
      parsed = schema.safeParse(entry.json());
    } catch {
      parsed = { success: false };
    }
    if (!parsed.success) {
      this.#logger?.warn({ key: entry.key }, `invalid ${what} skipped`);
      into.delete(entry.key);
      return;
    }
    into.set(entry.key, { value: parsed.data, revision: entry.revision, at: entry.created.getTime() });
  }
}
