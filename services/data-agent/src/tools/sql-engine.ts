import { type DuckDBConnection, DuckDBInstance, type DuckDBPreparedStatement, StatementType } from "@duckdb/node-api";
import { ToolError } from "@baton/tools";
import type { DatasetSpec } from "./datasets.ts";
import type { JsonValue } from "./json-values.ts";
import { resolveSqlLimits, type SqlLimits } from "./limits.ts";
import { QueryRuns, type QueryRun } from "./query-runs.ts";
import { readCapped } from "./read-result.ts";
import { checkReadKeyword, leadingKeyword, refuse } from "./read-statements.ts";
import { DEFAULT_MAX_ROWS, type LoadedDataset, MAX_ROWS, type QueryOptions, type QueryResult, type SqlBackend } from "./sql-backend.ts";
import { type ErrorContext, toToolError } from "./sql-errors.ts";

/** Options of {@link SqlEngine.open}. */
export interface SqlEngineOptions {
  /** DuckDB `memory_limit`, e.g. `"512MB"`. Default `"1GB"`: a runaway query fails instead of starving the host. */
  readonly memoryLimit?: string;
  /** DuckDB worker threads. Default: DuckDB's (one per core). */
  readonly threads?: number;
  /**
   * Folder where DuckDB may spill intermediate results larger than `memoryLimit` (sorts, joins,
   * aggregates). Default: none, so such a query fails with an out-of-memory error instead of
   * writing to disk (DuckDB's own default is `.tmp` in the working directory, up to 90% of the disk).
   */
  readonly tempDirectory?: string;
  /** DuckDB `max_temp_directory_size` when `tempDirectory` is set, e.g. `"1GB"`. Default `"1GB"`. */
  readonly maxTempDirectorySize?: string;
  /** Per-query limits; missing ones take their defaults (see {@link SqlLimits}). */
  readonly limits?: Partial<SqlLimits>;
  /** The address-space limit of the process the engine runs in, in bytes, named in memory errors. Default: not named. */
  readonly processMemoryLimitBytes?: number;
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
const quoteLiteral = (text: string): string => `'${text.replaceAll("'", "''")}'`;
const READERS = { csv: "read_csv_auto", json: "read_json_auto", parquet: "read_parquet" } as const;

/**
 * An in-memory DuckDB holding one table per catalog dataset, locked down after loading:
 * external access (files, network, extension install/load) disabled and the configuration
 * locked. User SQL goes through {@link SqlEngine.query}, which accepts one read statement only
 * and enforces {@link SqlLimits}: a time limit (the query is interrupted), and caps on the result
 * and on single values checked while the result streams in. DuckDB's `memory_limit` does not
 * cover values it builds outside its buffer manager (a `repeat()` of 2 GB, `range(1e9)` as a
 * list): only a process limit does, which is what {@link SqlSandbox} adds.
 */
export class SqlEngine implements SqlBackend {
  readonly #instance: DuckDBInstance;
  readonly #runs = new QueryRuns();
  readonly #errors: ErrorContext;
  /** Loaded datasets, in catalog order. */
  readonly datasets: readonly LoadedDataset[];
  readonly limits: SqlLimits;

  private constructor(instance: DuckDBInstance, datasets: readonly LoadedDataset[], options: SqlEngineOptions) {
    this.#instance = instance;
    this.datasets = datasets;
    this.limits = resolveSqlLimits(options.limits);
    this.#errors = {
      tables: datasets.map((d) => d.name).join(", "),
      memoryLimit: options.memoryLimit ?? "1GB",
      processMemoryLimitBytes: options.processMemoryLimitBytes,
    };
  }

  /**
   * Creates the database, loads every dataset into `CREATE TABLE <name> AS SELECT * FROM
   * read_*_auto('<file>')`, then locks it down.
   * @throws RangeError for invalid `limits`; Error naming the dataset when a file fails to load
   *   (the instance is closed).
   */
  static async open(datasets: readonly DatasetSpec[], options: SqlEngineOptions = {}): Promise<SqlEngine> {
    resolveSqlLimits(options.limits); // fail before loading anything
    const config: Record<string, string> = {
      memory_limit: options.memoryLimit ?? "1GB",
      // No spilling unless a folder is given: over memory_limit is then an error, not a full disk.
      temp_directory: options.tempDirectory ?? "",
      // Never fetch extensions from the network, not even during loading.
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
    };
    if (options.tempDirectory !== undefined) config["max_temp_directory_size"] = options.maxTempDirectorySize ?? "1GB";
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
          name: row["column_name"] as string,
          type: row["column_type"] as string,
          nullable: row["null"] === "YES",
        }));
        loaded.push({ ...spec, rowCount: Number(count.getRowsJson()[0]?.[0]), columns, loadMs: performance.now() - started });
      }
      // The lock-down. Order matters: lock_configuration last, so no later SET/RESET can undo
      // enable_external_access (it also refuses to be re-enabled on its own).
      await conn.run("SET enable_external_access = false");
      await conn.run("SET allow_community_extensions = false");
      await conn.run("SET lock_configuration = true");
      return new SqlEngine(instance, loaded, options);
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
   * rolled back afterwards, and its result is streamed in under {@link limits}: interrupted after
   * `timeoutMs`, reading stopped (and the query interrupted) past `maxResultBytes` or at a value
   * over `maxValueBytes`. Aborting `options.signal` interrupts the query.
   * @throws ToolError `TOOL_REFUSED` for anything but one read statement, file/network access, or a
   *   query over the memory limit; `TOOL_TIMEOUT` past the time limit (not retryable) or when
   *   interrupted through the signal (retryable); `TOOL_FAILED` for SQL errors (syntax, unknown
   *   column…, with DuckDB's message). BatonError `TOOL_OUTPUT_TOO_LARGE` past a result or value cap.
   *   Memory and time failures are retryable (`TOOL_FAILED`, `TOOL_TIMEOUT`) when other queries ran
   *   at the same time.
   */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    const maxRows = Math.min(Math.max(Math.trunc(options.maxRows ?? DEFAULT_MAX_ROWS), 1), MAX_ROWS);
    checkReadKeyword(sql); // before DuckDB sees the text: IMPORT DATABASE would read files while parsing
    return this.#withConnection(options.signal, async (conn) => {
      await conn.run("BEGIN TRANSACTION READ ONLY");
      try {
        const prepared = await this.#prepareRead(conn, sql, 0);
        try {
          const result = await prepared.stream();
          const names = result.deduplicatedColumnNames();
          const types = result.columnTypes();
          const read = await readCapped(result, names, maxRows, this.limits).catch((error: unknown) => {
            conn.interrupt(); // the query may still be producing rows
            throw error;
          });
          return {
            columns: names.map((name, i) => ({ name, type: String(types[i]) })),
            rows: read.rows,
            rowCount: read.rows.length,
            truncated: read.truncated,
          };
        } finally {
          prepared.destroySync();
        }
      } finally {
        await conn.run("ROLLBACK").catch(() => undefined);
      }
    });
  }

  /**
   * First `limit` rows of a loaded table, JSON-safe, under the same limits as a query.
   * @throws ToolError `TOOL_FAILED` for an unknown name.
   */
  async sample(name: string, limit = 3): Promise<Record<string, JsonValue>[]> {
    const dataset = this.dataset(name);
    if (!dataset) throw new ToolError("TOOL_FAILED", `unknown dataset "${name}"`);
    const rows = Math.max(0, Math.trunc(limit));
    return this.#withConnection(undefined, async (conn) => {
      const result = await conn.stream(`SELECT * FROM ${quoteIdent(dataset.name)} LIMIT ${rows}`);
      return (await readCapped(result, result.deduplicatedColumnNames(), rows, this.limits)).rows;
    });
  }

  /** Closes the database; later calls fail. */
  close(): void {
    this.#instance.closeSync();
  }

  /** Parses and binds `sql`, refusing anything but one SELECT (or EXPLAIN of one). */
  async #prepareRead(conn: DuckDBConnection, sql: string, depth: number): Promise<DuckDBPreparedStatement> {
    const lead = checkReadKeyword(sql);
    // DuckDB errors are mapped by #withConnection, which knows whether the time limit interrupted
    // the query (constant expressions are evaluated here, while binding).
    const extracted = await conn.extractStatements(sql);
    if (extracted.count !== 1) {
      throw refuse(
        `exactly one SQL statement is allowed, got ${extracted.count}${lead.keyword === "pivot" ? " (PIVOT without an explicit IN list creates a type first: list the pivot values with ON col IN (...))" : ""}`,
      );
    }
    const prepared = await extracted.prepare(0);
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

  /**
   * Runs `run` on a fresh connection under the time limit: when it expires, or `signal` aborts,
   * the connection is interrupted. DuckDB errors become tool errors ({@link toToolError}).
   */
  async #withConnection<T>(signal: AbortSignal | undefined, run: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    if (signal?.aborted) throw new ToolError("TOOL_TIMEOUT", "query cancelled before it started", { retryable: true });
    // A connection per call: interrupt() stops only this query, and no session state
    // (USE, variables, open transactions) leaks between calls.
    const conn = await this.#instance.connect();
    const state: QueryRun = this.#runs.begin(this.limits.timeoutMs);
    const timer = setTimeout(() => {
      state.timedOut = true;
      conn.interrupt();
    }, this.limits.timeoutMs);
    const onAbort = (): void => conn.interrupt();
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await run(conn);
    } catch (error) {
      throw toToolError(error, this.#errors, state, signal?.aborted ?? false);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#runs.end(state);
      conn.closeSync();
    }
  }
}
