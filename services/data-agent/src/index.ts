/** @baton/data-agent — the data worker: read-only SQL over registered datasets with DuckDB. */
import { defineAgent } from "@baton/agent";
import pkg from "../package.json" with { type: "json" };
import { DataAgentEnv } from "./config.ts";
import { dataToolsOptions } from "./env-options.ts";
import { createDataTools } from "./tools/index.ts";

export { DataAgentEnv } from "./config.ts";
export { dataToolsOptions } from "./env-options.ts";
export * from "./tools/index.ts";

/**
 * The `data` agent: loads the datasets into a locked-down DuckDB in a child process with hard
 * memory and time limits, once per replica (stopped on shutdown).
 */
export const dataAgent = defineAgent({
  name: "data",
  version: pkg.version,
  description:
    "Answers questions about tabular data with read-only SQL (DuckDB) over registered datasets: by default " +
    "seattle_weather, gapminder, cars, penguins and iowa_electricity from vega-datasets, plus any file in DATASETS_DIR " +
    "(describe_dataset lists them with columns and sample rows). Use it for aggregates, filters, joins and rankings; " +
    "it cannot write data, read other files or reach the network.",
  env: DataAgentEnv,
  async tools(env) {
    const data = await createDataTools(dataToolsOptions(env));
    return { tools: data.tools, close: () => data.close() };
  },
});
