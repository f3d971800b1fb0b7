import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { sleep } from "./backoff.ts";
import { CONSUMERS, type ConsumerSpec, KV_BUCKETS, type KvBucketSpec, STREAMS, type StreamSpec } from "@baton/contracts";

/** The JetStream stream config for a {@link StreamSpec} (durations converted ms → ns). */
export function streamConfig(spec: StreamSpec): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: [...spec.subjects],
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: spec.storage === "file" ? StorageType.File : StorageType.Memory,
    duplicate_window: nanos(spec.duplicateWindowMs),
    max_age: nanos(spec.maxAgeMs),
    max_msgs_per_subject: spec.maxMsgsPerSubject,
    num_replicas: 1,
    ...(spec.denyDelete ? { deny_delete: true } : {}),
    ...(spec.denyPurge ? { deny_purge: true } : {}),
  };
}

/** Creates the stream, or updates it to `spec` when it exists. Safe to call from every replica. */
export async function ensureStream(jsm: JetStreamManager, spec: StreamSpec): Promise<void> {
  const config = streamConfig(spec);
  let existingMaxAge: number | undefined;
  try {
    existingMaxAge = (await jsm.streams.info(spec.name)).config.max_age;
  } catch {
    try {
      await jsm.streams.add(config);
      return;
    } catch (error) {
      // Another replica created it between our info() and add(): fall through to update.
      if (!String(error).includes("already in use")) throw error;
    }
  }
  // A stream whose owner sets its max age (keepExistingMaxAge) keeps the one it has.
  if (spec.keepExistingMaxAge && existingMaxAge !== undefined) config.max_age = existingMaxAge;
  await jsm.streams.update(spec.name, config);
}

/** Creates the durable pull consumer, or updates its mutable settings when it exists. */
export async function ensureConsumer(jsm: JetStreamManager, spec: ConsumerSpec): Promise<void> {
  const config = {
    durable_name: spec.durable,
    filter_subject: spec.filterSubject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
  };
  try {
    await jsm.consumers.info(spec.stream, spec.durable);
    await jsm.consumers.update(spec.stream, spec.durable, {
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      max_ack_pending: config.max_ack_pending,
    });
  } catch (error) {
    if (!String(error).includes("consumer not found")) throw error;
    await jsm.consumers.add(spec.stream, config);
  }
}

/** Opens (creating when absent) a KV bucket; `ttlMs` (when given and > 0) is the max age of its entries. */
export async function openKv(nc: NatsConnection, bucket: Pick<KvBucketSpec, "name" | "history"> & { ttlMs?: number }): Promise<KV> {
  return new Kvm(nc).create(bucket.name, { history: bucket.history, ...(bucket.ttlMs ? { ttl: bucket.ttlMs } : {}) });
}

/**
 * Waits until every Baton stream and KV bucket exists (another service — the supervisor —
 * provisions them), checking every 500 ms and logging once a while. Needs only stream-info
 * permissions. Never gives up: a service started before the supervisor simply waits for it.
 */
export async function awaitProvisioning(nc: NatsConnection, logger?: Logger): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const names = [...STREAMS.map((s) => s.name), ...Object.values(KV_BUCKETS).map((b) => `KV_${b.name}`)];
  for (let attempt = 0; ; attempt++) {
    const missing: string[] = [];
    for (const name of names) {
      try {
        await jsm.streams.info(name);
      } catch (error) {
        if (!String(error).includes("stream not found")) throw error;
        missing.push(name);
      }
    }
    if (missing.length === 0) return;
    if (attempt % 20 === 0) logger?.info({ missing }, "waiting for the supervisor to provision the streams and buckets");
    await sleep(500);
  }
}

/**
 * Provisions every Baton stream, the control plane's consumers and every KV bucket (idempotent).
 * The supervisor calls it at start, so a fresh nats-server needs no setup step; the other services
 * wait for it ({@link awaitProvisioning}). An agent's work consumer is not among them: its worker
 * creates it ({@link ensureConsumer} with `workConsumer`).
 */
export async function provisionAll(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const stream of STREAMS) await ensureStream(jsm, stream);
  for (const consumer of CONSUMERS) await ensureConsumer(jsm, consumer);
  for (const bucket of Object.values(KV_BUCKETS)) await openKv(nc, bucket);
}
