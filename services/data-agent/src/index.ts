/** @baton/data-agent — the data worker: read-only SQL over registered datasets with DuckDB. */
import type { ServiceContext } from "@baton/core";
import { runWorkerService } from "@baton/worker";
import type { DataAgentEnv } from "./config.ts";
import { createDataTools } from "./tools/index.ts";

export { DataAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/** Loads the datasets into DuckDB, locks it down and runs the data worker. @throws when a dataset cannot load. */
export async function runDataAgent(env: DataAgentEnv): Promise<ServiceContext> {
  const data = await createDataTools({ datasetsDir: env.DATASETS_DIR ?? "", memoryLimit: env.DUCKDB_MEMORY_LIMIT });
  return runWorkerService({ agent: "data", env, tools: data.tools, close: () => data.close() });
}
