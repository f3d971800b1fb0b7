import { defineTool, type Tool, ToolError } from "@baton/tools";
import { z } from "zod";
import type { JsonValue } from "./json-values.ts";
import type { SqlBackend, TableColumn } from "./sql-backend.ts";

/** Input of `describe_dataset`: `name` of a dataset (case-insensitive); omit it to list all datasets. */
export const DescribeDatasetInput = z.object({
  name: z.string().min(1).max(128).optional().describe("Dataset (table) name, e.g. seattle_weather; omit to list all datasets"),
});

/** `describe_dataset` output for one dataset: `sample` holds its first 3 rows, JSON-safe. */
export interface DatasetDescription {
  readonly name: string;
  readonly description: string;
  readonly rowCount: number;
  readonly columns: readonly TableColumn[];
  readonly sample: Record<string, JsonValue>[];
}

/** `describe_dataset` output without a name: every dataset with its row and column counts. */
export interface DatasetList {
  readonly datasets: { name: string; description: string; rowCount: number; columnCount: number }[];
}

/**
 * The `describe_dataset` tool over `engine`: {@link DatasetDescription} for a name, {@link DatasetList}
 * without one. Read tier, idempotent, 5 s limit.
 * @throws ToolError `TOOL_FAILED` (from `execute`) for an unknown name, listing the known datasets.
 */
export function createDescribeDatasetTool(engine: SqlBackend): Tool<typeof DescribeDatasetInput, DatasetDescription | DatasetList> {
  const known = engine.datasets.map((d) => d.name).join(", ");
  return defineTool({
    name: "describe_dataset",
    description: `Describe a dataset available to sql_query: its meaning, row count, columns (name, DuckDB type, nullable) and first 3 rows. Call without a name to list all datasets with row counts. Datasets: ${known}.`,
    input: DescribeDatasetInput,
    timeoutMs: 5_000,
    riskTier: "read",
    idempotent: true,
    async execute(args) {
      if (args.name === undefined) {
        return {
          datasets: engine.datasets.map((d) => ({
            name: d.name,
            description: d.description,
            rowCount: d.rowCount,
            columnCount: d.columns.length,
          })),
        };
      }
      const dataset = engine.dataset(args.name);
      if (!dataset) throw new ToolError("TOOL_FAILED", `unknown dataset "${args.name}"; known datasets: ${known}`);
      return {
        name: dataset.name,
        description: dataset.description,
        rowCount: dataset.rowCount,
        columns: dataset.columns,
        sample: await engine.sample(dataset.name, 3),
      };
    },
  });
}
