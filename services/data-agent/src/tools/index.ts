import type { Tool } from "@baton/tools";
import { buildCatalog, type DatasetSpec } from "./datasets.ts";
import { createDescribeDatasetTool } from "./describe-dataset.ts";
import type { SqlLimits } from "./limits.ts";
import type { LoadedDataset } from "./sql-backend.ts";
import { createSqlQueryTool } from "./sql-query.ts";
import { SqlSandbox } from "./sql-sandbox.ts";

export {
  buildCatalog,
  type CatalogOptions,
  DATASET_NAME,
  type DatasetFormat,
  datasetNameFromFile,
  type DatasetSpec,
  datasetsFromDir,
  defaultDatasets,
  vegaDataDir,
} from "./datasets.ts";
export { createDescribeDatasetTool, type DatasetDescription, type DatasetList, DescribeDatasetInput } from "./describe-dataset.ts";
export { type JsonValue, toJsonValue } from "./json-values.ts";
export {
  DEFAULT_SQL_LIMITS,
  DEFAULT_SQL_MAX_RESULT_BYTES,
  DEFAULT_SQL_MAX_VALUE_BYTES,
  DEFAULT_SQL_TIMEOUT_MS,
  DUCKDB_SIZE,
  defaultProcessMemoryLimitBytes,
  duckDbSizeBytes,
  MAX_SQL_RESULT_BYTES,
  resolveSqlLimits,
  SQL_PROCESS_HEADROOM_BYTES,
  type SqlLimits,
} from "./limits.ts";
export { checkReadKeyword } from "./read-statements.ts";
export {
  type ColumnInfo,
  DEFAULT_MAX_ROWS,
  type LoadedDataset,
  MAX_ROWS,
  type QueryOptions,
  type QueryResult,
  type SqlBackend,
  type TableColumn,
} from "./sql-backend.ts";
export { SqlEngine, type SqlEngineOptions } from "./sql-engine.ts";
export type { HostProcessInfo } from "./sql-protocol.ts";
export { createSqlQueryTool, SQL_TOOL_TIMEOUT_MARGIN_MS, SqlQueryInput } from "./sql-query.ts";
export { KILL_GRACE_MS, SqlSandbox, type SqlSandboxOptions } from "./sql-sandbox.ts";

/** Options of {@link createDataTools}. */
export interface DataToolsOptions {
  /** Folder whose `.csv`/`.json`/`.parquet` files are added as datasets. Default: env `DATASETS_DIR`, else none. */
  readonly datasetsDir?: string;
  /** Further datasets (absolute file paths, lower-case SQL names). */
  readonly extraDatasets?: readonly DatasetSpec[];
  /** Include the built-in vega-datasets tables. Default true. */
  readonly includeDefaults?: boolean;
  /** DuckDB memory limit, e.g. `"512MB"`. Default `"1GB"`. */
  readonly memoryLimit?: string;
  /** Per-query limits: time, result and value size (see {@link SqlLimits}); missing ones take their defaults. */
  readonly limits?: Partial<SqlLimits>;
  /** DuckDB worker threads. Default: one per core. */
  readonly threads?: number;
  /** Folder where DuckDB may spill to disk. Default: none (no spilling; over the memory limit is an error). */
  readonly tempDirectory?: string;
  /** Most DuckDB may spill into `tempDirectory`, DuckDB syntax. Default `"1GB"`. */
  readonly maxTempDirectorySize?: string;
  /** The SQL process's address-space limit in bytes (RLIMIT_DATA). Default: `memoryLimit` + 1 GiB. */
  readonly processMemoryLimitBytes?: number;
}

/** The data agent's tools and the engine behind them; call `close()` on shutdown. */
export interface DataTools {
  /** `sql_query` and `describe_dataset`. */
  readonly tools: Tool[];
  /** The SQL process the tools run on. */
  readonly engine: SqlSandbox;
  /** Loaded datasets with row counts and load times. */
  readonly datasets: readonly LoadedDataset[];
  /** Stops the SQL process; the tools fail afterwards. */
  close(): void;
}

/**
 * Builds the catalog ({@link buildCatalog}), loads it into a locked-down in-memory DuckDB in a
 * child process with hard memory and time limits ({@link SqlSandbox}) and returns the `sql_query`
 * and `describe_dataset` tools over it. Start-up takes about 0.5 s for the built-in datasets.
 * @throws Error on an invalid catalog (bad name, missing file, duplicate), a file DuckDB cannot
 *   load, or a SQL process that cannot start; RangeError for invalid limits.
 */
export async function createDataTools(options: DataToolsOptions = {}): Promise<DataTools> {
  const datasetsDir = options.datasetsDir ?? process.env["DATASETS_DIR"];
  const catalog = buildCatalog({
    includeDefaults: options.includeDefaults,
    datasetsDir: datasetsDir === "" ? undefined : datasetsDir,
    extraDatasets: options.extraDatasets,
  });
  const engine = await SqlSandbox.start(catalog, {
    memoryLimit: options.memoryLimit,
    limits: options.limits,
    threads: options.threads,
    tempDirectory: options.tempDirectory,
    maxTempDirectorySize: options.maxTempDirectorySize,
    processMemoryLimitBytes: options.processMemoryLimitBytes,
  });
  return {
    tools: [createSqlQueryTool(engine), createDescribeDatasetTool(engine)],
    engine,
    datasets: engine.datasets,
    close: () => engine.close(),
  };
}
