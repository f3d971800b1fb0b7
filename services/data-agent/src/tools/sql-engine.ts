import {
  type DuckDBConnection,
  DuckDBDecimalValue,
  DuckDBInstance,
  type DuckDBPreparedStatement,
  type DuckDBResultReader,
  DuckDBTypeId,
  type DuckDBValueConverter,
  JsonDuckDBValueConverter,
  StatementType,
} from "@duckdb/node-api";
import { ToolError } from "@baton/tools";
import type { DatasetSpec } from "./datasets.ts";

/** A JSON value: what query results are converted to. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

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

/** Result of {@link SqlEngine.query}. */
export interface QueryResult {
  /** Result columns; names are de-duplicated (`a`, `a:1`) so they match the row keys. */
  readonly columns: ColumnInfo[];
  /** Row objects keyed by column name, values JSON-safe (see {@link toJsonValue}). */
  readonly rows: Record<string, JsonValue>[];
  /** `rows.length`. */
  readonly rowCount: number;
  /** True when the query produced more than `maxRows` rows and `rows` holds only the first `maxRows`. */
  readonly truncated: boolean;
}

/** Default `maxRows` of {@link SqlEngine.query}: 200 rows. */
export const DEFAULT_MAX_ROWS = 200;
/** Largest `maxRows` of {@link SqlEngine.query}: 5000 rows (larger values are clamped). */
export const MAX_ROWS = 5000;

/** Options of {@link SqlEngine.open}. */
export interface SqlEngineOptions {
  /** DuckDB `memory_limit`, e.g. `"512MB"`. Default `"1GB"`: a runaway query fails instead of starving the host. */
  readonly memoryLimit?: string;
  /** DuckDB worker threads. Default: DuckDB's (one per core). */
  readonly threads?: number;
}

// First keywords of statements that only read. DuckDB's own statement type is checked as well;
// this list exists because DuckDB rewrites some non-reads (PRAGMA, IMPORT) before they get a type.
const READ_KEYWORDS = new Set([
  "select",
  "with",
  "from",
  "values",
  "table",
  "describe",
  "summarize",
  "show",
  "explain",
  "pivot",
  "unpivot",
]);

/** The first keyword of `sql` (lower case) and the offset just after it, skipping whitespace, comments and `(`. */
function leadingKeyword(sql: string, from = 0): { keyword: string; end: number } {
  let i = from;
  while (i < sql.length) {
    const ch = sql[i] ?? "";
    if (/\s/.test(ch) || ch === "(") i += 1;
    else if (sql.startsWith("--", i)) {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (sql.startsWith("/*", i)) {
      // Postgres-style block comments nest; DuckDB's parser is derived from Postgres'.
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith("/*", i)) {
          depth += 1;
          i += 2;
        } else if (sql.startsWith("*/", i)) {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
    } else break;
  }
  const word = /^[A-Za-z_]+/.exec(sql.slice(i))?.[0] ?? "";
  return { keyword: word.toLowerCase(), end: i + word.length };
}

const refuse = (reason: string): ToolError => new ToolError("TOOL_REFUSED", reason);

/**
 * Cheap pre-parse check: the statement must start with a read keyword (SELECT, WITH, FROM, VALUES,
 * TABLE, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN, PIVOT, UNPIVOT), after comments and `(`.
 * Returns the keyword and the offset after it.
 * @throws ToolError `TOOL_REFUSED` otherwise (empty input included).
 */
export function checkReadKeyword(sql: string, from = 0): { keyword: string; end: number } {
  const lead = leadingKeyword(sql, from);
  if (lead.keyword === "") throw refuse("no SQL statement found; send one SELECT query");
  if (!READ_KEYWORDS.has(lead.keyword)) {
    throw refuse(
      `only read-only queries are allowed (SELECT, WITH … SELECT, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN); ${lead.keyword.toUpperCase()} statements are refused`,
    );
  }
  return lead;
}

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);
const TIMESTAMP_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ,
]);
const DUCKDB_TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?)?$/;

/**
 * DuckDB value → JSON value, recursing into lists, structs and maps. Integers beyond 32 bits
 * (BIGINT, HUGEINT, …) → number when a safe integer, else decimal string; DECIMAL → number when
 * at most 15 digits (exact in a double), else string; DATE → `YYYY-MM-DD`; TIMESTAMP →
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]` (TIMESTAMPTZ in UTC with `+00:00`); NaN/±Infinity and
 * infinite dates → strings; everything else as DuckDB's JSON converter gives it.
 */
export const toJsonValue: DuckDBValueConverter<JsonValue> = (value, type, converter) => {
  if (value === null) return null;
  if (INTEGER_TYPES.has(type.typeId) && typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (type.typeId === DuckDBTypeId.DECIMAL && value instanceof DuckDBDecimalValue) {
    return value.width <= 15 ? Number(value.toString()) : value.toString();
  }
  if (TIMESTAMP_TYPES.has(type.typeId)) {
    const text = String(value);
    const m = DUCKDB_TIMESTAMP.exec(text);
    if (!m) return text; // infinity, BC dates
    return `${m[1]}T${m[2]}${m[3] === undefined ? "" : `${m[3]}:${m[4] ?? "00"}`}`;
  }
  return JsonDuckDBValueConverter(value, type, converter) as JsonValue;
};

/** Reader rows → row objects; `Object.fromEntries` so a column named `__proto__` stays a plain key. */
function rowObjects(reader: DuckDBResultReader, names: readonly string[], limit: number): Record<string, JsonValue>[] {
  return reader
    .convertRows(toJsonValue)
    .slice(0, limit)
    .map((row) => Object.fromEntries(names.map((name, i) => [name, row[i] ?? null])));
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;
const READERS = { csv: "read_csv_auto", json: "read_json_auto", parquet: "read_parquet" } as const;

/**
 * An in-memory DuckDB holding one table per catalog dataset, locked down after loading:
 * external access (files, network, extension install/load) disabled and the configuration
 * locked. User SQL goes through {@link SqlEngine.query}, which accepts one read statement only.
 */
export class SqlEngine {
  readonly #instance: DuckDBInstance;
  /** Loaded datasets, in catalog order. */
  readonly datasets: readonly LoadedDataset[];

  private constructor(instance: DuckDBInstance, datasets: readonly LoadedDataset[]) {
    this.#instance = instance;
    this.datasets = datasets;
  }

  /**
   * Creates the database, loads every dataset into `CREATE TABLE <name> AS SELECT * FROM
   * read_*_auto('<file>')`, then locks it down.
   * @throws Error naming the dataset when a file fails to load (the instance is closed).
   */
  static async open(datasets: readonly DatasetSpec[], options: SqlEngineOptions = {}): Promise<SqlEngine> {
    const config: Record<string, string> = {
      memory_limit: options.memoryLimit ?? "1GB",
      // Never fetch extensions from the network, not even during loading.
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    };
    if (options.threads !== undefined) config["threads"] = String(options.threads);
    const instance = await DuckDBInstance.create(":memory:", config);
    const conn = await instance.connect();
    try {
      const loaded: LoadedDataset[] = [];
      for (const spec of datasets) {
        const started = performance.now();
        try {
          await conn.run(`CREATE TABLE ${quoteIdent(spec.name)} AS SELECT * FROM ${READERS[spec.format]}(${quoteLiteral(spec.file)})`);
        } catch (error) {
          throw new Error(`dataset "${spec.name}": cannot load ${spec.file}: ${(error as Error).message}`, { cause: error });
        }
        const count = await conn.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(spec.name)}`);
        const described = await conn.runAndReadAll(`DESCRIBE ${quoteIdent(spec.name)}`);
        const columns = described.getRowObjectsJson().map((row) => ({
          name: String(row["column_name"] as string),
          type: String(row["column_type"] as string),
          nullable: row["null"] === "YES",
        }));
        loaded.push({ ...spec, rowCount: Number(count.getRowsJson()[0]?.[0]), columns, loadMs: performance.now() - started });
      }
      // The lock-down. Order matters: lock_configuration last, so no later SET/RESET can undo
      // enable_external_access (it also refuses to be re-enabled on its own).
      await conn.run("SET enable_external_access = false");
      await conn.run("SET allow_community_extensions = false");
      await conn.run("SET lock_configuration = true");
      return new SqlEngine(instance, loaded);
    } catch (error) {
      instance.closeSync();
      throw error;
    } finally {
      conn.closeSync();
    }
  }

  /** The loaded dataset called `name` (case-insensitive, as SQL names are), or undefined. */
  dataset(name: string): LoadedDataset | undefined {
    const wanted = name.trim().toLowerCase();
    return this.datasets.find((d) => d.name === wanted);
  }

  /**
   * Runs one read-only statement. Checks, in order: the leading keyword ({@link checkReadKeyword}),
   * exactly one statement (DuckDB's parser), and DuckDB's statement type of the bound statement
   * (SELECT or EXPLAIN of a read). It then runs in a READ ONLY transaction on a fresh connection,
   * rolled back afterwards. Aborting `signal` interrupts the query.
   * @param options.maxRows rows returned at most, 1..{@link MAX_ROWS}, default {@link DEFAULT_MAX_ROWS}.
   * @throws ToolError `TOOL_REFUSED` for anything but one read statement, or file/network access;
   *   `TOOL_FAILED` for SQL errors (syntax, unknown column…, with DuckDB's message);
   *   `TOOL_TIMEOUT` when interrupted through `signal`.
   */
  async query(sql: string, options: { maxRows?: number; signal?: AbortSignal } = {}): Promise<QueryResult> {
    const maxRows = Math.min(Math.max(Math.trunc(options.maxRows ?? DEFAULT_MAX_ROWS), 1), MAX_ROWS);
    checkReadKeyword(sql); // before DuckDB sees the text: IMPORT DATABASE would read files while parsing
    return this.#withConnection(options.signal, async (conn) => {
      await conn.run("BEGIN TRANSACTION READ ONLY");
      try {
        const prepared = await this.#prepareRead(conn, sql, 0);
        try {
          const reader = await prepared.streamAndReadUntil(maxRows + 1);
          const names = reader.deduplicatedColumnNames();
          const types = reader.columnTypes();
          const rows = rowObjects(reader, names, maxRows);
          return {
            columns: names.map((name, i) => ({ name, type: String(types[i]) })),
            rows,
            rowCount: rows.length,
            truncated: reader.currentRowCount > maxRows,
          };
        } finally {
          prepared.destroySync();
        }
      } finally {
        await conn.run("ROLLBACK").catch(() => undefined);
      }
    });
  }

  /** First `limit` rows of a loaded table, JSON-safe. @throws ToolError `TOOL_FAILED` for an unknown name. */
  async sample(name: string, limit = 3): Promise<Record<string, JsonValue>[]> {
    const dataset = this.dataset(name);
    if (!dataset) throw new ToolError("TOOL_FAILED", `unknown dataset "${name}"`);
    return this.#withConnection(undefined, async (conn) => {
      const reader = await conn.runAndReadAll(`SELECT * FROM ${quoteIdent(dataset.name)} LIMIT ${Math.max(0, Math.trunc(limit))}`);
      return rowObjects(reader, reader.deduplicatedColumnNames(), limit);
    });
  }

  /** Closes the database; later calls fail. */
  close(): void {
    this.#instance.closeSync();
  }

  /** Parses and binds `sql`, refusing anything but one SELECT (or EXPLAIN of one). */
  async #prepareRead(conn: DuckDBConnection, sql: string, depth: number): Promise<DuckDBPreparedStatement> {
    const lead = checkReadKeyword(sql);
    const extracted = await conn.extractStatements(sql).catch((error: unknown) => {
      throw toToolError(error, this.#tableList());
    });
    if (extracted.count !== 1) {
      throw refuse(
        `exactly one SQL statement is allowed, got ${extracted.count}${lead.keyword === "pivot" ? " (PIVOT without an explicit IN list creates a type first: list the pivot values with ON col IN (...))" : ""}`,
      );
    }
    const prepared = await extracted.prepare(0).catch((error: unknown) => {
      throw toToolError(error, this.#tableList());
    });
    const type = prepared.statementType;
    if (type === StatementType.SELECT) return prepared;
    if (type === StatementType.EXPLAIN && depth === 0 && lead.keyword === "explain") {
      // EXPLAIN ANALYZE executes its statement: the explained statement must itself be a read.
      let rest = lead.end;
      const next = leadingKeyword(sql, rest);
      if (next.keyword === "analyze") rest = next.end;
      try {
        (await this.#prepareRead(conn, sql.slice(rest), depth + 1)).destroySync();
      } catch (error) {
        prepared.destroySync();
        throw error;
      }
      return prepared;
    }
    prepared.destroySync();
    throw refuse(
      `only read-only queries are allowed; DuckDB parsed this statement as ${StatementType[type] ?? "a non-SELECT"}, not SELECT`,
    );
  }

  async #withConnection<T>(signal: AbortSignal | undefined, run: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new ToolError("TOOL_TIMEOUT", "query cancelled before it started", { retryable: true });
    // A connection per call: interrupt() stops only this query, and no session state
    // (USE, variables, open transactions) leaks between calls.
    const conn = await this.#instance.connect();
    const onAbort = (): void => conn.interrupt();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await run(conn);
    } catch (error) {
      throw toToolError(error, this.#tableList());
    } finally {
      signal?.removeEventListener("abort", onAbort);
      conn.closeSync();
    }
  }

  #tableList(): string {
    return this.datasets.map((d) => d.name).join(", ");
  }
}

/** DuckDB error → ToolError: permission errors are refusals, interrupts timeouts, the rest SQL failures. */
function toToolError(error: unknown, tables: string): ToolError {
  if (error instanceof ToolError) return error;
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
  if (/Permission Error|file system operations are disabled|configuration has been locked|extensions is disabled/i.test(message)) {
    return new ToolError(
      "TOOL_REFUSED",
      `file, network and extension access are disabled; query the loaded tables (${tables}) instead. DuckDB: ${message}`,
      { cause: error },
    );
  }
  if (/^INTERRUPT Error/.test(message))
    return new ToolError("TOOL_TIMEOUT", "query interrupted (cancelled or timed out)", { cause: error, retryable: true });
  return new ToolError("TOOL_FAILED", `SQL error: ${message}`, { cause: error });
}
