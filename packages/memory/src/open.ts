import type { NatsConnection } from "@nats-io/transport-node";
import { KvMemoryStore } from "./kv-store.ts";
import { MongoMemoryStore } from "./mongo-store.ts";
import type { MemoryStore } from "./store.ts";

/** What `openMemoryStore` needs. */
export interface OpenMemoryStoreOptions {
  /** When set (non-empty), memory lives in MongoDB at this URI (db "baton", collection "memories"). */
  mongodbUri?: string | undefined;
  /** The caller's NATS connection, used for the JetStream KV store when no MongoDB URI is given. */
  nc: NatsConnection;
}

/**
 * Opens the configured memory store: `MongoMemoryStore` when `mongodbUri` is set, otherwise
 * `KvMemoryStore` on the "baton_memory" bucket (no extra server needed).
 * `close()` on the result never closes `nc`.
 * @throws MemoryStoreError when the backing store cannot be reached.
 */
export async function openMemoryStore(options: OpenMemoryStoreOptions): Promise<MemoryStore> {
  return options.mongodbUri ? MongoMemoryStore.connect(options.mongodbUri) : KvMemoryStore.open(options.nc);
}
