import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { executeToolCall, type ToolContext, ToolError, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataTools, type DataTools, datasetNameFromFile } from "../../services/data-agent/src/tools/index.ts";

// Real DuckDB over the real vega-datasets files: the lock-down is only worth testing for real.
let data: DataTools;
let registry: ToolRegistry;
const ctx = (): ToolContext => ({ signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} });
const call = (tool: string, args: Record<string, unknown>) => executeToolCall(registry, { tool, args }, ctx());

/** Output of a call that must succeed. */
async function ok<T>(tool: string, args: Record<string, unknown>): Promise<T> {
  const result = await call(tool, args);
  if (!result.ok) throw new Error(`${tool} failed: ${result.error.code} ${result.error.message}`);
  return result.output as T;
}

interface QueryOutput {
  columns: { name: string; type: string }[];
  rows: Record<string, unknown>[];
  rowCount: number;
  truncated: boolean;
}
const query = (sql: string, maxRows?: number) => ok<QueryOutput>("sql_query", maxRows === undefined ? { sql } : { sql, maxRows });

beforeAll(async () => {
  const started = performance.now();
  data = await createDataTools({ datasetsDir: "" }); // "" → ignore any DATASETS_DIR of the environment
  console.log(`data tools loaded in ${(performance.now() - started).toFixed(0)} ms`);
  registry = new ToolRegistry(data.tools);
});
afterAll(() => data?.close());

describe("describe_dataset", () => {
  it("describes seattle_weather with real values", async () => {
    const out = await ok<{
      name: string;
      rowCount: number;
      columns: { name: string; type: string; nullable: boolean }[];
      sample: Record<string, unknown>[];
    }>("describe_dataset", { name: "seattle_weather" });
    expect(out.name).toBe("seattle_weather");
    expect(out.rowCount).toBe(1461);
    expect(out.columns.map((c) => c.name)).toEqual(["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]);
    expect(out.columns.map((c) => c.type)).toEqual(["DATE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR"]);
    expect(out.sample).toHaveLength(3);
    expect(out.sample[0]).toEqual({ date: "2012-01-01", precipitation: 0, temp_max: 12.8, temp_min: 5, wind: 4.7, weather: "drizzle" });
    expect(out.sample[1]).toMatchObject({ date: "2012-01-02", precipitation: 10.9, weather: "rain" });
  });

  it("lists every dataset with row counts when called without a name", async () => {
    const out = await ok<{ datasets: { name: string; rowCount: number }[] }>("describe_dataset", {});
    expect(Object.fromEntries(out.datasets.map((d) => [d.name, d.rowCount]))).toEqual({
      seattle_weather: 1461,
      gapminder: 682,
      cars: 406,
      penguins: 344,
      iowa_electricity: 51,
    });
  });

  it("fails on an unknown name, listing the known datasets", async () => {
    const result = await call("describe_dataset", { name: "nope" });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe("TOOL_FAILED");
    expect(result.error.message).toContain("known datasets: seattle_weather, gapminder, cars");
  });
});

describe("sql_query", () => {
  it("aggregates: average daily maximum temperature per year", async () => {
    const out = await query(
      "SELECT year(date) AS year, round(avg(temp_max), 2) AS avg_max, count(*) AS days FROM seattle_weather GROUP BY year ORDER BY year",
    );
    expect(out.columns).toEqual([
      { name: "year", type: "BIGINT" },
      { name: "avg_max", type: "DOUBLE" },
      { name: "days", type: "BIGINT" },
    ]);
    expect(out.rows.map((r) => r["year"])).toEqual([2012, 2013, 2014, 2015]);
    expect(out.rows.map((r) => r["days"])).toEqual([366, 365, 365, 365]); // BIGINT → number
    for (const row of out.rows) expect(row["avg_max"]).toSatisfy((t: number) => t > 12 && t < 20);
    expect(out.rows[0]?.["avg_max"]).toBeCloseTo(15.28, 2);
    expect(out).toMatchObject({ rowCount: 4, truncated: false });
  });

  it("reads the JSON datasets too", async () => {
    const out = await query("SELECT Origin, count(*) AS n FROM cars GROUP BY Origin ORDER BY n DESC");
    expect(out.rows).toEqual([
      { Origin: "USA", n: 254 },
      { Origin: "Japan", n: 79 },
      { Origin: "Europe", n: 73 },
    ]);
    const gap = await query("SELECT max(pop) AS pop FROM gapminder WHERE country = 'China'");
    expect(gap.rows[0]?.["pop"]).toBeGreaterThan(1_000_000_000);
  });

  it("truncates at maxRows and says so", async () => {
    const out = await query("SELECT * FROM seattle_weather ORDER BY date", 10);
    expect(out.rowCount).toBe(10);
    expect(out.rows).toHaveLength(10);
    expect(out.truncated).toBe(true);
    expect(out.rows[9]?.["date"]).toBe("2012-01-10");
    const all = await query("SELECT * FROM cars", 5000);
    expect(all).toMatchObject({ rowCount: 406, truncated: false });
    const def = await query("SELECT * FROM seattle_weather");
    expect(def).toMatchObject({ rowCount: 200, truncated: true });
  });

  it("returns JSON-safe values", async () => {
    const out = await query(
      "SELECT 12345678901234567890::HUGEINT AS big, 42::BIGINT AS small, 1.25::DECIMAL(5,2) AS dcm, TIMESTAMP '2001-02-03 04:05:06' AS ts, 'nan'::DOUBLE AS nan",
    );
    expect(out.rows[0]).toEqual({ big: "12345678901234567890", small: 42, dcm: 1.25, ts: "2001-02-03T04:05:06", nan: "NaN" });
  });

  it("allows the other read statements", async () => {
    expect((await query("DESCRIBE cars")).rowCount).toBe(9);
    expect((await query("SHOW TABLES")).rowCount).toBe(5);
    expect((await query("SUMMARIZE penguins")).rowCount).toBe(7);
    expect((await query("EXPLAIN SELECT count(*) FROM cars")).rowCount).toBeGreaterThan(0);
    expect((await query("WITH w AS (SELECT * FROM seattle_weather) SELECT count(*) AS n FROM w")).rows).toEqual([{ n: 1461 }]);
    expect((await query("FROM cars SELECT count(*) AS n; ")).rows).toEqual([{ n: 406 }]);
  });

  it("reports SQL errors as TOOL_FAILED with DuckDB's message", async () => {
    const result = await call("sql_query", { sql: "SELECT nosuch FROM cars" });
    expect(result).toMatchObject({ ok: false, error: { code: "TOOL_FAILED" } });
    if (!result.ok) expect(result.error.message).toContain("nosuch");
  });

  it("rejects invalid arguments", async () => {
    expect(await call("sql_query", { sql: "" })).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS" } });
    expect(await call("sql_query", { sql: "SELECT 1", maxRows: 5001 })).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS" } });
    expect(await call("sql_query", { sql: "   " })).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS" } });
  });

  it("interrupts a running query when the signal aborts", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = performance.now();
    const error = await data.engine
      .query("SELECT count(*) FROM range(100000000) a, range(1000) b", { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ToolError);
    expect((error as ToolError).code).toBe("TOOL_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe("sql_query refuses everything but reads", () => {
  const refused: [string, string][] = [
    ["INSERT", "INSERT INTO cars (Name) VALUES ('x')"],
    ["UPDATE", "UPDATE cars SET Horsepower = 0"],
    ["DELETE", "DELETE FROM seattle_weather"],
    ["CREATE TABLE", "CREATE TABLE t AS SELECT * FROM cars"],
    ["DROP TABLE", "DROP TABLE cars"],
    ["ALTER", "ALTER TABLE cars RENAME TO autos"],
    ["COPY TO", "COPY cars TO '/tmp/x.csv'"],
    ["COPY (query) TO", "COPY (SELECT * FROM cars) TO '/tmp/x.csv'"],
    ["ATTACH", "ATTACH '/tmp/x.db' AS x"],
    ["INSTALL", "INSTALL httpfs"],
    ["LOAD", "LOAD httpfs"],
    ["PRAGMA", "PRAGMA show_tables"],
    ["SET", "SET enable_external_access = true"],
    ["RESET", "RESET lock_configuration"],
    ["EXPORT", "EXPORT DATABASE '/tmp/export'"],
    ["IMPORT", "IMPORT DATABASE '/tmp/export'"],
    ["CALL", "CALL pragma_version()"],
    ["read_csv of a file", "SELECT * FROM read_csv('/etc/passwd')"],
    ["read_text of a file", "SELECT * FROM read_text('/etc/hostname')"],
    ["a URL", "SELECT * FROM read_parquet('https://example.com/x.parquet')"],
    ["multi-statement", "SELECT 1; DROP TABLE cars"],
    ["CTE-wrapped INSERT", "WITH x AS (SELECT 'y' AS n) INSERT INTO cars (Name) SELECT n FROM x"],
    ["EXPLAIN ANALYZE of a write", "EXPLAIN ANALYZE DELETE FROM cars"],
    ["write behind a comment", "/* SELECT */ DELETE FROM cars"],
  ];

  it.each(refused)("%s", async (_label, sql) => {
    const result = await call("sql_query", { sql });
    expect(result).toMatchObject({ ok: false, error: { code: "TOOL_REFUSED" } });
  });

  it("does not even parse a data-modifying CTE (DuckDB has none)", async () => {
    const result = await call("sql_query", { sql: "WITH d AS (DELETE FROM cars RETURNING *) SELECT count(*) FROM d" });
    expect(result).toMatchObject({ ok: false, error: { code: "TOOL_FAILED" } });
  });

  it("leaves the tables and the lock-down intact", async () => {
    const counts = await query(
      "SELECT (SELECT count(*) FROM seattle_weather) AS sw, (SELECT count(*) FROM cars) AS cars, (SELECT count(*) FROM gapminder) AS gm",
    );
    expect(counts.rows).toEqual([{ sw: 1461, cars: 406, gm: 682 }]);
    expect((await query("SHOW TABLES")).rows.map((r) => r["name"])).toEqual([
      "cars",
      "gapminder",
      "iowa_electricity",
      "penguins",
      "seattle_weather",
    ]);
    const settings = await query(
      "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration') ORDER BY name",
    );
    expect(settings.rows).toEqual([
      { name: "enable_external_access", value: "false" },
      { name: "lock_configuration", value: "true" },
    ]);
  });
});

describe("datasets from a folder", () => {
  it("loads every csv/json file of DATASETS_DIR under a name derived from the file name", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-datasets-"));
    try {
      writeFileSync(join(dir, "My Sales-2024.csv"), "region,amount\nnorth,10\nsouth,32\n");
      writeFileSync(join(dir, "2nd.json"), JSON.stringify([{ a: 1 }, { a: 2 }, { a: 3 }]));
      writeFileSync(join(dir, "notes.txt"), "ignored");
      const own = await createDataTools({ datasetsDir: dir, includeDefaults: false });
      try {
        expect(own.datasets.map((d) => [d.name, d.rowCount])).toEqual([
          ["t_2nd", 3],
          ["my_sales_2024", 2],
        ]);
        const reg = new ToolRegistry(own.tools);
        const result = await executeToolCall(
          reg,
          { tool: "sql_query", args: { sql: "SELECT sum(amount) AS total FROM my_sales_2024" } },
          ctx(),
        );
        expect(result).toMatchObject({ ok: true, output: { rows: [{ total: 42 }] } });
      } finally {
        own.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("derives SQL names from file names", () => {
    expect(datasetNameFromFile("/x/seattle-weather.csv")).toBe("seattle_weather");
    expect(datasetNameFromFile("Flights 3M.parquet")).toBe("flights_3m");
  });
});
