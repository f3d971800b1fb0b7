import { MemorySummary } from "@baton/contracts";
import { type Collection, MongoClient, MongoError, MongoNetworkError, MongoServerSelectionError } from "mongodb";
import { checkCount, DEFAULT_LIST_LIMIT, DEFAULT_SEARCH_K, type MemoryStore, MemoryStoreError, storeError } from "./store.ts";

/** Options of `MongoMemoryStore.connect`. */
export interface MongoMemoryStoreOptions {
  /** Database name (default "baton"). */
  dbName?: string;
  /** Collection name (default "memories"). */
  collection?: string;
}

/**
 * `MemoryStore` on MongoDB: one document per task (the summary's fields, `_id` left to MongoDB),
 * with a unique index on taskId, a weighted text index for `search` (goal 5, keyFacts 3,
 * digest 1; English stemming) and a createdAt-descending index for `list`.
 * Timestamps stay the ISO strings of the contract, so `list` orders them as strings: equal
 * to time order for `Date#toISOString()` output, which is what Baton writes.
 */
export class MongoMemoryStore implements MemoryStore {
  readonly #client: MongoClient;
  readonly #col: Collection<MemorySummary>;
  #closed = false;

  private constructor(client: MongoClient, col: Collection<MemorySummary>) {
    this.#client = client;
    this.#col = col;
  }

  /**
   * Connects a client this store owns (closed by `close()`) and ensures the indexes.
   * @throws MemoryStoreError when the server is unreachable (retryable) or an index with the
   *   same name but other options exists (not retryable).
   */
  static async connect(uri: string, options: MongoMemoryStoreOptions = {}): Promise<MongoMemoryStore> {
    const client = new MongoClient(uri);
    try {
      await client.connect();
      const col = client.db(options.dbName ?? "baton").collection<MemorySummary>(options.collection ?? "memories");
      // createIndex is a no-op when an identical index exists, so every process may run it.
      await col.createIndex({ taskId: 1 }, { unique: true, name: "taskId_unique" });
      await col.createIndex(
        { goal: "text", digest: "text", keyFacts: "text" },
        { name: "memory_text", weights: { goal: 5, keyFacts: 3, digest: 1 }, default_language: "english" },
      );
      await col.createIndex({ createdAt: -1 }, { name: "createdAt_desc" });
      return new MongoMemoryStore(client, col);
    } catch (error) {
      await client.close().catch(() => {});
      throw mongoError("connecting to MongoDB", error);
    }
  }

  async put(summary: MemorySummary): Promise<void> {
    const parsed = MemorySummary.parse(summary);
    this.#checkOpen();
    try {
      await this.#col.replaceOne({ taskId: parsed.taskId }, { ...parsed }, { upsert: true });
    } catch (error) {
      throw mongoError(`put ${parsed.taskId}`, error);
    }
  }

  async get(taskId: string): Promise<MemorySummary | undefined> {
    this.#checkOpen();
    // String() guards against an operator object smuggled in as the "id" by an untyped caller.
    const doc = await this.#run(`get ${taskId}`, () => this.#col.findOne({ taskId: String(taskId) }, { projection: { _id: 0 } }));
    return doc ? toSummary(doc) : undefined;
  }

  async search(query: string, k: number = DEFAULT_SEARCH_K): Promise<MemorySummary[]> {
    checkCount("k", k);
    this.#checkOpen();
    if (query.trim() === "") return [];
    const docs = await this.#run("search", () =>
      this.#col
        .find({ $text: { $search: query } }, { projection: { _id: 0, score: { $meta: "textScore" } } })
        .sort({ score: { $meta: "textScore" } })
        .limit(k)
        .toArray(),
    );
    return docs.map(toSummary);
  }

  async list(limit: number = DEFAULT_LIST_LIMIT): Promise<MemorySummary[]> {
    checkCount("limit", limit);
    this.#checkOpen();
    const docs = await this.#run("list", () =>
      this.#col
        .find({}, { projection: { _id: 0 } })
        .sort({ createdAt: -1, taskId: 1 })
        .limit(limit)
        .toArray(),
    );
    return docs.map(toSummary);
  }

  /** Closes the MongoClient this store owns. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#client.close();
  }

  async #run<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      throw mongoError(what, error);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new MemoryStoreError("memory store: closed", { retryable: false });
  }
}

/** Validates a stored document; the schema strips `_id` and the text `score`. */
function toSummary(doc: unknown): MemorySummary {
  const result = MemorySummary.safeParse(doc);
  if (!result.success) throw storeError("reading a stored summary (invalid document)", result.error, false);
  return result.data;
}

/** Network trouble, server selection, labelled-retryable errors and upsert races (E11000) may pass on retry. */
function mongoError(what: string, error: unknown): MemoryStoreError {
  const retryable =
    error instanceof MongoNetworkError ||
    error instanceof MongoServerSelectionError ||
    (error instanceof MongoError &&
      (error.code === 11000 || error.hasErrorLabel("RetryableWriteError") || error.hasErrorLabel("RetryableError")));
  return storeError(what, error, retryable);
}
