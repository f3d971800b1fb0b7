import { hostname } from "node:os";
import { AGENT_HEARTBEAT_MS, type AgentCard, type AgentReplica, agentReplicaKey, KV_BUCKETS } from "@baton/contracts";
import { openKv, type ServiceContext } from "@baton/core";
import type { ToolRegistry } from "@baton/tools";
import type { KV } from "@nats-io/kv";

/** What {@link AgentPresence.start} announces. */
export interface PresenceOptions {
  readonly agent: string;
  readonly version: string;
  readonly description: string;
  readonly registry: ToolRegistry;
  /** Whether steps without tool calls run an LLM loop here. */
  readonly llm: boolean;
  /** Steps this replica runs at once. */
  readonly concurrency: number;
  /** Steps it runs right now. */
  readonly inFlight: () => number;
  /** Heartbeat period in ms; default {@link AGENT_HEARTBEAT_MS}. */
  readonly heartbeatMs?: number;
}

/**
 * An agent replica's presence on the bus (the worker protocol's registration):
 * - the agent card, put in `baton_agents` under `<agent>` at start, again whenever the tool
 *   registry changes, and again by a heartbeat that finds the key gone;
 * - its replica record, put in `baton_agent_replicas` under `<agent>.<instance>` every
 *   `heartbeatMs` and deleted on {@link stop}.
 * A failed put is logged and tried again at the next heartbeat; it never stops the worker.
 */
export class AgentPresence {
  readonly #service: ServiceContext;
  readonly #options: PresenceOptions;
  readonly #cards: KV;
  readonly #replicas: KV;
  readonly #startedAt = new Date().toISOString();
  readonly #key: string;
  #timer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  #beating: Promise<void> = Promise.resolve();

  private constructor(service: ServiceContext, options: PresenceOptions, cards: KV, replicas: KV) {
    this.#service = service;
    this.#options = options;
    this.#cards = cards;
    this.#replicas = replicas;
    this.#key = agentReplicaKey(options.agent, service.instanceId);
  }

  /** Puts the card and the first replica record, then heartbeats. @throws when the first puts fail. */
  static async start(service: ServiceContext, options: PresenceOptions): Promise<AgentPresence> {
    const presence = new AgentPresence(
      service,
      options,
      await openKv(service.nc, KV_BUCKETS.agents),
      await openKv(service.nc, KV_BUCKETS.agentReplicas),
    );
    await presence.putCard();
    await presence.#putReplica();
    presence.#unsubscribe = options.registry.onChange(() => {
      presence.putCard().catch((error: unknown) => service.logger.warn({ err: error }, "could not publish the changed agent card"));
    });
    presence.#timer = setInterval(() => {
      presence.#beating = presence.#heartbeat();
    }, options.heartbeatMs ?? AGENT_HEARTBEAT_MS);
    presence.#timer.unref();
    return presence;
  }

  /** The card as this replica describes its agent now. */
  card(): AgentCard {
    const o = this.#options;
    return {
      schemaVersion: 1,
      agent: o.agent,
      version: o.version,
      description: o.description,
      tools: o.registry.cards(),
      llm: o.llm,
      updatedAt: new Date().toISOString(),
    };
  }

  /** Puts the card now. */
  async putCard(): Promise<void> {
    const card = this.card();
    await this.#cards.put(this.#options.agent, JSON.stringify(card));
    this.#service.logger.info({ agent: card.agent, version: card.version, tools: card.tools.map((t) => t.name) }, "agent card published");
  }

  /** Stops heartbeating and deletes this replica's record (the agent's card stays). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#unsubscribe?.();
    await this.#beating;
    await this.#replicas
      .delete(this.#key)
      .catch((error: unknown) => this.#service.logger.warn({ err: error }, "could not delete the replica record"));
  }

  async #heartbeat(): Promise<void> {
    try {
      await this.#putReplica();
      const entry = await this.#cards.get(this.#options.agent);
      if (!entry || entry.operation !== "PUT") await this.putCard();
    } catch (error) {
      this.#service.logger.warn({ err: error }, "agent heartbeat failed; trying again at the next one");
    }
  }

  async #putReplica(): Promise<void> {
    const o = this.#options;
    const record: AgentReplica = {
      schemaVersion: 1,
      agent: o.agent,
      instanceId: this.#service.instanceId,
      version: o.version,
      startedAt: this.#startedAt,
      heartbeatAt: new Date().toISOString(),
      concurrency: o.concurrency,
      inFlight: o.inFlight(),
      host: hostname(),
      pid: process.pid,
    };
    await this.#replicas.put(this.#key, JSON.stringify(record));
  }
}
