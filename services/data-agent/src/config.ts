import { z } from "zod";

/**
 * The data agent's own environment (read together with the worker settings).
 * - `DATASETS_DIR`: extra datasets (every .csv/.json/.parquet file, table named after the file),
 *   loaded next to the defaults from the npm package vega-datasets; unset = defaults only.
 * - `DUCKDB_MEMORY_LIMIT`: DuckDB's memory limit, DuckDB syntax; default `1GB`.
 */
export const DataAgentEnv = z.object({
  DATASETS_DIR: z.string().min(1).optional(),
  DUCKDB_MEMORY_LIMIT: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$/i, "a size such as 512MB or 1GB")
    .default("1GB"),
});
export type DataAgentEnv = z.infer<typeof DataAgentEnv>;
