import type { MemorySummary } from "@baton/contracts";

/**
 * Long-term memory of finished tasks: one `MemorySummary` per taskId, searchable by text.
 * Implementations: `KvMemoryStore` (JetStream KV, the default) and `MongoMemoryStore`.
 *
 * Errors: invalid arguments reject with `ZodError` (put) or `RangeError` (k / limit);
 * failures of the backing store reject with `MemoryStoreError`.
 */
export interface MemoryStore {
  /**
   * Stores (upserts) the summary of one task, keyed by `taskId`: a second put with the same
   * taskId replaces the first. Validates with `MemorySummary.parse` first and stores the parsed
   * value (unknown keys stripped, defaults applied).
   * @throws ZodError when `summary` is not a valid `MemorySummary` (nothing is written).
   * @throws MemoryStoreError when the backing store fails.
   */
  put(summary: MemorySummary): Promise<void>;
  /**
   * The summary stored for `taskId`, or `undefined` when there is none (including a taskId
   * that is not a valid `TaskId`, since put would have refused it).
   * @throws MemoryStoreError when the backing store fails or the stored value is corrupt.
   */
  get(taskId: string): Promise<MemorySummary | undefined>;
  /**
   * Top-`k` summaries most relevant to `query` (full-text over goal, digest and keyFacts,
   * goal weighted highest), best first. A blank query or no match gives `[]`.
   * @param k maximum results, a positive integer (default 5).
   * @throws RangeError when `k` is not a positive integer.
   * @throws MemoryStoreError when the backing store fails.
   */
  search(query: string, k?: number): Promise<MemorySummary[]>;
  /**
   * Summaries by `createdAt`, most recent first, up to `limit`.
   * @param limit maximum results, a positive integer (default 20).
   * @throws RangeError when `limit` is not a positive integer.
   * @throws MemoryStoreError when the backing store fails.
   */
  list(limit?: number): Promise<MemorySummary[]>;
  /** Releases what the store owns. Idempotent; other calls reject with `MemoryStoreError` afterwards. */
  close(): Promise<void>;
}

/** The stable error code of every `MemoryStoreError`. */
export const MEMORY_STORE_FAILED = "MEMORY_STORE_FAILED" as const;

/**
 * A failure of the memory store's backing service (NATS KV or MongoDB), or a corrupt stored value.
 * `retryable` is true when trying again may succeed (network, timeout, server unavailable);
 * `cause` carries the underlying error.
 */
export class MemoryStoreError extends Error {
  override readonly name = "MemoryStoreError";
  readonly code = MEMORY_STORE_FAILED;
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
  }
}

/** Defaults shared by both implementations. */
export const DEFAULT_SEARCH_K = 5;
export const DEFAULT_LIST_LIMIT = 20;

/** Checks a k / limit argument; a RangeError because it is a caller bug, not a store failure. */
export function checkCount(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Wraps an unknown failure of the backing store, keeping an existing MemoryStoreError as is. */
export function storeError(what: string, cause: unknown, retryable = true): MemoryStoreError {
  if (cause instanceof MemoryStoreError) return cause;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new MemoryStoreError(`memory store: ${what} failed: ${detail}`, { retryable, cause });
}
