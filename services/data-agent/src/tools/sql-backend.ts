import type { DatasetSpec } from "./datasets.ts";
import type { JsonValue } from "./json-values.ts";
import type { SqlLimits } from "./limits.ts";

/** A result or table column: name and DuckDB type as SQL spells it (e.g. `DOUBLE`, `DATE`, `BIGINT[]`). */
export interface ColumnInfo {
  readonly name: string;
  readonly type: string;
}

/** A table column with its nullability as DuckDB's `DESCRIBE` reports it. */
export interface TableColumn extends ColumnInfo {
  readonly nullable: boolean;
}

/** A catalog dataset after loading: its table's row count and columns. */
export interface LoadedDataset extends DatasetSpec {
  /** Rows in the table (tables are immutable after start-up). */
  readonly rowCount: number;
  readonly columns: readonly TableColumn[];
  /** Wall-clock time to load the file into its table, in ms. */
  readonly loadMs: number;
}

/** Result of {@link SqlBackend.query}. */
export interface QueryResult {
  /** Result columns; names are de-duplicated (`a`, `a:1`) so they match the row keys. */
  readonly columns: ColumnInfo[];
  /** Row objects keyed by column name, values JSON-safe (see `toJsonValue`). */
  readonly rows: Record<string, JsonValue>[];
  /** `rows.length`. */
  readonly rowCount: number;
  /** True when the query produced more than `maxRows` rows and `rows` holds only the first `maxRows`. */
  readonly truncated: boolean;
}

/** Options of {@link SqlBackend.query}. */
export interface QueryOptions {
  /** Rows returned at most, 1..{@link MAX_ROWS}; default {@link DEFAULT_MAX_ROWS}. */
  readonly maxRows?: number;
  /** Aborting it interrupts the query (`TOOL_TIMEOUT`, retryable). */
  readonly signal?: AbortSignal;
}

/** Default `maxRows` of a query: 200 rows. */
export const DEFAULT_MAX_ROWS = 200;
/** Largest `maxRows` of a query: 5000 rows (larger values are clamped). */
export const MAX_ROWS = 5000;

/**
 * What the data tools run SQL on: {@link SqlEngine} in this process, or {@link SqlSandbox}, the
 * same engine in a child process with hard memory and time limits.
 */
export interface SqlBackend {
  /** Loaded datasets, in catalog order. */
  readonly datasets: readonly LoadedDataset[];
  /** The limits every query runs under. */
  readonly limits: SqlLimits;
  /** The loaded dataset called `name` (case-insensitive, as SQL names are), or undefined. */
  dataset(name: string): LoadedDataset | undefined;
  /** Runs one read-only statement under {@link limits}. */
  query(sql: string, options?: QueryOptions): Promise<QueryResult>;
  /** First `limit` rows of a loaded table, JSON-safe. */
  sample(name: string, limit?: number): Promise<Record<string, JsonValue>[]>;
  /** Releases the database; later calls fail. */
  close(): void;
}
