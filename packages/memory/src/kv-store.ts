import { KV_BUCKETS, MemorySummary, TaskId } from "@baton/contracts";
import { type KV, type KvWatchEntry, Kvm } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import MiniSearch from "minisearch";
import { checkCount, DEFAULT_LIST_LIMIT, DEFAULT_SEARCH_K, type MemoryStore, MemoryStoreError, storeError } from "./store.ts";

/** Options of `KvMemoryStore.open`. */
export interface KvMemoryStoreOptions {
  /** KV bucket name (default `KV_BUCKETS.memory.name`, "baton_memory"); tests use their own. */
  bucket?: string;
  /** How long search/list wait for the local index to catch up with the bucket, in ms (default 5000). */
  syncTimeoutMs?: number;
}

/**
 * `MemoryStore` on a JetStream KV bucket (key = taskId, value = the summary as JSON, history 1),
 * so every service on every host shares one memory with no server besides NATS.
 *
 * Search design: KV has no query engine, so each store keeps an in-process MiniSearch index
 * (plus a Map of the summaries) fed by one `kv.watch()`: it first replays the last value of
 * every key, then streams each change (PUT → add/replace, DEL/PURGE → discard), so a search
 * costs no per-document round trips. The index is built on the first search or list, not on
 * open. Memory cost: every summary lives in RAM on every process that searches or lists
 * (digest ≤ 2,000 characters + keyFacts ≤ 20 × 500 each — fine for thousands of tasks; MongoDB
 * is the store for more).
 * Freshness: before search/list, one stream-info request reads the bucket's last revision and
 * waits until the watcher has applied it, so any put that completed before the call (from
 * any host) is visible — read-your-writes at the cost of one round trip per search/list.
 * `get` reads the bucket directly.
 */
export class KvMemoryStore implements MemoryStore {
  readonly #kv: KV;
  readonly #syncTimeoutMs: number;
  readonly #docs = new Map<string, MemorySummary>();
  readonly #index = new MiniSearch<MemorySummary>({
    idField: "taskId",
    fields: ["goal", "digest", "keyFacts"],
    // keyFacts is an array: index its items as one text.
    extractField: (doc, field) => {
      const value = doc[field as keyof MemorySummary];
      return Array.isArray(value) ? value.join("\n") : value;
    },
    // Same weights as the MongoDB text index; prefix + light fuzziness stand in for stemming.
    searchOptions: { boost: { goal: 5, keyFacts: 3, digest: 1 }, prefix: true, fuzzy: 0.2 },
  });
  #watcher: QueuedIterator<KvWatchEntry> | undefined;
  /** Highest bucket revision the index reflects. */
  #applied = 0;
  #waiters: Array<{ revision: number; resolve: () => void; reject: (e: Error) => void }> = [];
  /** Why the current watcher stopped (then the next search/list restarts it). */
  #watchFailure: MemoryStoreError | undefined;
  #closed = false;

  private constructor(kv: KV, syncTimeoutMs: number) {
    this.#kv = kv;
    this.#syncTimeoutMs = syncTimeoutMs;
  }

  /**
   * Opens (creating if missing, history 1) the bucket on `nc`. The index watcher starts with the
   * first search or list, so a process that only writes and reads by key (the synthesizer) keeps
   * no summary in memory. The connection stays the caller's: `close()` does not close it.
   * @throws MemoryStoreError (retryable) when JetStream is unavailable.
   */
  static async open(nc: NatsConnection, options: KvMemoryStoreOptions = {}): Promise<KvMemoryStore> {
    const bucket = options.bucket ?? KV_BUCKETS.memory.name;
    let kv: KV;
    try {
      kv = await new Kvm(nc).create(bucket, { history: KV_BUCKETS.memory.history });
    } catch (error) {
      throw storeError(`opening KV bucket ${bucket}`, error);
    }
    return new KvMemoryStore(kv, options.syncTimeoutMs ?? 5_000);
  }

  async put(summary: MemorySummary): Promise<void> {
    const parsed = MemorySummary.parse(summary);
    this.#checkOpen();
    try {
      await this.#kv.put(parsed.taskId, JSON.stringify(parsed));
    } catch (error) {
      throw storeError(`put ${parsed.taskId}`, error);
    }
  }

  async get(taskId: string): Promise<MemorySummary | undefined> {
    this.#checkOpen();
    // Not a valid key, so put never stored it (and kv.get would throw "invalid key").
    if (!TaskId.safeParse(taskId).success) return undefined;
    let raw: unknown;
    try {
      const entry = await this.#kv.get(taskId);
      if (!entry || entry.operation !== "PUT") return undefined;
      raw = entry.json();
    } catch (error) {
      throw storeError(`get ${taskId}`, error);
    }
    const result = MemorySummary.safeParse(raw);
    if (!result.success) throw storeError(`get ${taskId} (stored value is invalid)`, result.error, false);
    return result.data;
  }

  async search(query: string, k: number = DEFAULT_SEARCH_K): Promise<MemorySummary[]> {
    checkCount("k", k);
    this.#checkOpen();
    if (query.trim() === "") return [];
    await this.#sync();
    const out: MemorySummary[] = [];
    for (const hit of this.#index.search(query)) {
      const doc = this.#docs.get(String(hit.id));
      if (doc) out.push(doc);
      if (out.length === k) break;
    }
    return out;
  }

  async list(limit: number = DEFAULT_LIST_LIMIT): Promise<MemorySummary[]> {
    checkCount("limit", limit);
    this.#checkOpen();
    await this.#sync();
    // Date.parse, not string order: ISO strings with and without milliseconds mis-sort as text.
    return [...this.#docs.values()]
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || a.taskId.localeCompare(b.taskId))
      .slice(0, limit);
  }

  /** Stops the index watcher. Idempotent; the NATS connection is left open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.stop();
    this.#failWaiters(new MemoryStoreError("memory store: closed", { retryable: false }));
  }

  /** (Re)starts the watcher from scratch: it replays the last value of every key, then changes. */
  async #startWatcher(): Promise<void> {
    this.#docs.clear();
    this.#index.removeAll();
    this.#applied = 0;
    this.#watchFailure = undefined;
    try {
      this.#watcher = await this.#kv.watch();
    } catch (error) {
      // Leave the failure set so the next search/list tries again.
      this.#watchFailure = storeError("starting KV watcher", error);
      this.#failWaiters(this.#watchFailure);
      throw this.#watchFailure;
    }
    void this.#consume(this.#watcher);
  }

  /** Applies watcher entries to the index until the watcher stops. */
  async #consume(watcher: QueuedIterator<KvWatchEntry>): Promise<void> {
    let failure: MemoryStoreError;
    try {
      for await (const entry of watcher) {
        this.#apply(entry);
        this.#applied = Math.max(this.#applied, entry.revision);
        const ready = this.#waiters.filter((w) => w.revision <= this.#applied);
        this.#waiters = this.#waiters.filter((w) => w.revision > this.#applied);
        for (const w of ready) w.resolve();
      }
      failure = new MemoryStoreError("memory store: KV watcher ended", { retryable: true });
    } catch (error) {
      failure = storeError("KV watcher", error);
    }
    if (this.#closed || watcher !== this.#watcher) return;
    this.#watchFailure = failure;
    this.#failWaiters(failure);
  }

  #apply(entry: KvWatchEntry): void {
    const doc = entry.operation === "PUT" ? decode(entry) : undefined;
    if (this.#docs.has(entry.key)) {
      if (doc) this.#index.replace(doc);
      else this.#index.discard(entry.key);
    } else if (doc) {
      this.#index.add(doc);
    }
    // DEL/PURGE, or a corrupt value: drop it, so one bad entry cannot break every search.
    if (doc) this.#docs.set(entry.key, doc);
    else this.#docs.delete(entry.key);
  }

  /** Waits until the index reflects every write the bucket had when this was called. */
  async #sync(): Promise<void> {
    if (!this.#watcher || this.#watchFailure) await this.#startWatcher();
    let revision: number;
    try {
      revision = (await this.#kv.status()).streamInfo.state.last_seq;
    } catch (error) {
      throw storeError("reading bucket status", error);
    }
    if (revision <= this.#applied) return;
    this.#checkOpen();
    if (this.#watchFailure) throw this.#watchFailure;
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiter = { revision, resolve, reject };
    this.#waiters.push(waiter);
    const timer = setTimeout(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
      const message = `memory store: index did not reach revision ${revision} within ${this.#syncTimeoutMs} ms`;
      reject(new MemoryStoreError(message, { retryable: true }));
    }, this.#syncTimeoutMs);
    try {
      await promise;
    } finally {
      clearTimeout(timer);
    }
  }

  #failWaiters(reason: MemoryStoreError): void {
    for (const w of this.#waiters) w.reject(reason);
    this.#waiters = [];
  }

  #checkOpen(): void {
    if (this.#closed) throw new MemoryStoreError("memory store: closed", { retryable: false });
  }
}

/** The summary in a PUT entry, or undefined when the value is not a valid MemorySummary for its key. */
function decode(entry: KvWatchEntry): MemorySummary | undefined {
  try {
    const result = MemorySummary.safeParse(entry.json());
    return result.success && result.data.taskId === entry.key ? result.data : undefined;
  } catch {
    return undefined; // not JSON
  }
}
