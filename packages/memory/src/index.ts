/**
 * @baton/memory — long-term memory of finished tasks (`MemorySummary` per taskId) with
 * full-text search. `openMemoryStore` picks MongoDB when configured, else JetStream KV.
 */
export {
  DEFAULT_LIST_LIMIT,
  DEFAULT_SEARCH_K,
  MEMORY_STORE_FAILED,
  type MemoryStore,
  MemoryStoreError,
} from "./store.ts";
export { KvMemoryStore, type KvMemoryStoreOptions } from "./kv-store.ts";
export { MongoMemoryStore, type MongoMemoryStoreOptions } from "./mongo-store.ts";
export { type OpenMemoryStoreOptions, openMemoryStore } from "./open.ts";
