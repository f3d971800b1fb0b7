import type { DataAgentEnv } from "./config.ts";
import { MAX_SQL_RESULT_BYTES } from "./tools/limits.ts";
import type { DataToolsOptions } from "./tools/index.ts";

/**
 * The options of `createDataTools` from the agent's parsed environment. `SQL_MAX_RESULT_BYTES`
 * defaults to the worker's `MAX_TOOL_OUTPUT_BYTES` (at most 16 MiB): a result the executor would
 * refuse anyway is then refused while it streams in, before it is read whole; `SQL_MAX_VALUE_BYTES`
 * to the smaller of 65,536 and the result cap.
 * @throws RangeError when `SQL_MAX_VALUE_BYTES` is set above the result cap.
 */
export function dataToolsOptions(env: DataAgentEnv & { readonly MAX_TOOL_OUTPUT_BYTES: number }): DataToolsOptions {
  const maxResultBytes = env.SQL_MAX_RESULT_BYTES ?? Math.min(env.MAX_TOOL_OUTPUT_BYTES, MAX_SQL_RESULT_BYTES);
  if (env.SQL_MAX_VALUE_BYTES > maxResultBytes) {
    throw new RangeError(
      `SQL_MAX_VALUE_BYTES (${env.SQL_MAX_VALUE_BYTES}) must not exceed the result cap (${maxResultBytes}, SQL_MAX_RESULT_BYTES or MAX_TOOL_OUTPUT_BYTES)`,
    );
  }
  return {
    datasetsDir: env.DATASETS_DIR ?? "",
    memoryLimit: env.DUCKDB_MEMORY_LIMIT,
    threads: env.DUCKDB_THREADS,
    tempDirectory: env.DUCKDB_TEMP_DIRECTORY,
    maxTempDirectorySize: env.DUCKDB_MAX_TEMP_DIRECTORY_SIZE,
    processMemoryLimitBytes: env.SQL_PROCESS_MEMORY_LIMIT_BYTES,
    limits: { timeoutMs: env.SQL_TIMEOUT_MS, maxResultBytes, maxValueBytes: env.SQL_MAX_VALUE_BYTES },
  };
}
