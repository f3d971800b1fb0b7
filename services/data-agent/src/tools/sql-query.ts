import { defineTool, type Tool } from "@baton/tools";
import { z } from "zod";
import { DEFAULT_MAX_ROWS, type LoadedDataset, MAX_ROWS, type QueryResult, type SqlBackend } from "./sql-backend.ts";

/** Input of `sql_query`: `sql` 1..20,000 characters (not only whitespace); `maxRows` 1..5000, default 200. */
export const SqlQueryInput = z.object({
  sql: z
    .string()
    .min(1)
    .max(20_000)
    .regex(/\S/, "sql must contain a statement")
    .describe("One read-only DuckDB SQL statement, e.g. SELECT weather, count(*) FROM seattle_weather GROUP BY weather"),
  maxRows: z
    .number()
    .int()
    .min(1)
    .max(MAX_ROWS)
    .default(DEFAULT_MAX_ROWS)
    .describe(`Most rows to return (default ${DEFAULT_MAX_ROWS}, max ${MAX_ROWS}); more are cut and flagged truncated`),
});

/** One line per table for the model: name, size, meaning and columns. */
function tableLines(datasets: readonly LoadedDataset[]): string {
  return datasets
    .map((d) => `- ${d.name} (${d.rowCount} rows): ${d.description} Columns: ${d.columns.map((c) => `${c.name} ${c.type}`).join(", ")}.`)
    .join("\n");
}

/**
 * The tool's own timeout beyond the query's time limit, in ms: 5,000. A backstop only (its
 * failure is a retryable `TOOL_TIMEOUT`): the engine stops the query at its limit, and the
 * sandbox kills a query that does not stop within its `KILL_GRACE_MS` (1.5 s), so that the step fails
 * once with the engine's non-retryable error.
 */
export const SQL_TOOL_TIMEOUT_MARGIN_MS = 5_000;

const count = (n: number): string => n.toLocaleString("en-US");

/**
 * The `sql_query` tool over `engine`: output {@link QueryResult} `{ columns: [{name, type}], rows,
 * rowCount, truncated }`. Read tier, idempotent; its timeout is the engine's query time limit plus
 * {@link SQL_TOOL_TIMEOUT_MARGIN_MS} (15 s by default). Refusals, SQL errors and broken limits come
 * back as the errors of {@link SqlBackend.query}.
 */
export function createSqlQueryTool(engine: SqlBackend): Tool<typeof SqlQueryInput, QueryResult> {
  const { timeoutMs, maxResultBytes, maxValueBytes } = engine.limits;
  return defineTool({
    name: "sql_query",
    description: [
      "Run one read-only DuckDB SQL query over the loaded datasets and get the result rows as JSON.",
      "Allowed: a single SELECT (also WITH … SELECT, FROM-first queries, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN).",
      "Refused: INSERT/UPDATE/DELETE, CREATE/DROP/ALTER, COPY, ATTACH, SET, PRAGMA, INSTALL/LOAD, several statements, and any file or network access (read_csv('…'), URLs): only the tables below exist.",
      `At most maxRows rows come back (default ${DEFAULT_MAX_ROWS}, max ${MAX_ROWS}; truncated: true when cut), so aggregate in SQL (GROUP BY, avg, count, quantile_cont) rather than fetching raw rows.`,
      `Limits: ${count(timeoutMs / 1000)} s per query, ${count(maxResultBytes)} bytes of JSON per result and ${count(maxValueBytes)} per value, and a memory limit; a query over one fails (not retried), so avoid cross joins, huge ranges and long strings or lists.`,
      "Values: DATE as 'YYYY-MM-DD', TIMESTAMP as ISO 8601 text, integers as numbers (as strings beyond 2^53). Use year(date), date_trunc('month', date) for time grouping; round(x, 2) for readable numbers.",
      "Tables:",
      tableLines(engine.datasets),
    ].join("\n"),
    input: SqlQueryInput,
    timeoutMs: timeoutMs + SQL_TOOL_TIMEOUT_MARGIN_MS,
    riskTier: "read",
    display: { format: "table", path: "/rows" },
    idempotent: true,
    execute: (args, ctx) => engine.query(args.sql, { maxRows: args.maxRows, signal: ctx.signal }),
  });
}
