import { envPositiveInt } from "@baton/core";
import { z } from "zod";
import { DEFAULT_SQL_MAX_VALUE_BYTES, DEFAULT_SQL_TIMEOUT_MS, DUCKDB_SIZE, MAX_SQL_RESULT_BYTES } from "./tools/limits.ts";

const duckDbSize = z.string().regex(DUCKDB_SIZE, "a size such as 512MB or 1GB");

/**
 * The data agent's own environment (read together with the worker settings).
 * - `DATASETS_DIR`: extra datasets (every .csv/.json/.parquet file, table named after the file),
 *   loaded next to the defaults from the npm package vega-datasets; unset = defaults only.
 * - `DUCKDB_MEMORY_LIMIT`: DuckDB's memory limit (its buffer manager), DuckDB syntax; default `1GB`.
 * - `DUCKDB_THREADS`: DuckDB worker threads; default one per core.
 * - `DUCKDB_TEMP_DIRECTORY`: folder where DuckDB may spill larger-than-memory sorts, joins and
 *   aggregates; unset (the default) = no spilling: such a query fails with the memory limit.
 * - `DUCKDB_MAX_TEMP_DIRECTORY_SIZE`: most DuckDB may spill there, DuckDB syntax; default `1GB`.
 * - `SQL_TIMEOUT_MS`: wall-clock limit of one query; default 10,000 ms (the tool's own timeout is
 *   5,000 ms more). A query still running is interrupted, or its process restarted 1,500 ms later.
 * - `SQL_MAX_RESULT_BYTES`: largest query result, in bytes of row JSON, checked while the result
 *   streams in; default `MAX_TOOL_OUTPUT_BYTES` (262,144), at most 16,777,216.
 * - `SQL_MAX_VALUE_BYTES`: largest single value (string, blob, list…), in bytes of JSON, checked
 *   before it is converted; default 65,536 (at most `SQL_MAX_RESULT_BYTES`).
 * - `SQL_PROCESS_MEMORY_LIMIT_BYTES`: limit of the SQL process's writable address space
 *   (RLIMIT_DATA), which bounds what DuckDB builds outside its memory limit; default
 *   `DUCKDB_MEMORY_LIMIT` + 1 GiB (about 0.85 GiB of it is reserved by Node itself), at least 1 GiB.
 */
export const DataAgentEnv = z.object({
  DATASETS_DIR: z.string().min(1).optional(),
  DUCKDB_MEMORY_LIMIT: duckDbSize.default("1GB"),
  DUCKDB_THREADS: envPositiveInt.max(256).optional(),
  DUCKDB_TEMP_DIRECTORY: z.string().min(1).optional(),
  DUCKDB_MAX_TEMP_DIRECTORY_SIZE: duckDbSize.default("1GB"),
  SQL_TIMEOUT_MS: envPositiveInt.max(600_000).default(DEFAULT_SQL_TIMEOUT_MS),
  SQL_MAX_RESULT_BYTES: envPositiveInt.max(MAX_SQL_RESULT_BYTES).optional(),
  SQL_MAX_VALUE_BYTES: envPositiveInt.max(MAX_SQL_RESULT_BYTES).default(DEFAULT_SQL_MAX_VALUE_BYTES),
  SQL_PROCESS_MEMORY_LIMIT_BYTES: envPositiveInt.min(2 ** 30, "must be at least 1073741824 (1 GiB)").optional(),
});
export type DataAgentEnv = z.infer<typeof DataAgentEnv>;
