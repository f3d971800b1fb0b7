import { readFileSync, writeFileSync } from "node:fs";
import { runStepToolCalls } from "@baton/agent";
import { StepWork, type ToolCallResult } from "@baton/contracts";
import { BatonError } from "@baton/core";
import { executeToolCall, ToolError, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataAgentEnv, dataToolsOptions } from "../../services/data-agent/src/index.ts";
import { createDataTools, type DataTools } from "../../services/data-agent/src/tools/index.ts";

// Issue 9, item 8: string, list and cross-join bombs against the real DuckDB engine. Each must be
// refused within seconds with a non-retryable code (so the worker reports the step once instead of
// retrying it three times) while the processes' memory stays bounded. Durations and peak RSS are
// printed, not asserted tightly: the machine is shared and has 2 cores.

const MiB = 2 ** 20;
let data: DataTools; // default limits
let quick: DataTools; // a 2 s SQL time limit, for the CPU-bound cross join

/** Peak RSS (VmHWM) of a process in MiB, or undefined when /proc is not readable. */
function peakRssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

/** Resets a process's VmHWM to its current RSS (Linux ≥ 4.0); a no-op where not permitted. */
function resetPeakRss(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not Linux, or not permitted: the peak then covers the process's whole life
  }
}

/** CPU time (user + system) of a process in ms, from /proc/<pid>/stat; undefined without /proc. */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks, USER_HZ = 100
  } catch {
    return undefined;
  }
}

interface Probe {
  readonly result: ToolCallResult;
  readonly ms: number;
  /** Peak RSS of this (the agent's) process during the call, sampled every 10 ms, in MiB. */
  readonly agentPeakMiB: number;
  /** Peak RSS (VmHWM) of the SQL process during the call, in MiB; undefined when it runs in-process. */
  readonly sqlPeakMiB: number | undefined;
}

/** Runs `sql` through the executor as a worker would, measuring time and memory; prints the figures. */
async function probe(tools: DataTools, label: string, sql: string, maxRows?: number): Promise<Probe> {
  const registry = new ToolRegistry(tools.tools);
  const pid = tools.engine.pid;
  resetPeakRss(process.pid);
  resetPeakRss(pid);
  let agentPeak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    agentPeak = Math.max(agentPeak, process.memoryUsage.rss());
  }, 10);
  const started = performance.now();
  const result = await executeToolCall(
    registry,
    { tool: "sql_query", args: maxRows === undefined ? { sql } : { sql, maxRows } },
    { signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} },
  );
  const ms = performance.now() - started;
  clearInterval(sampler);
  agentPeak = Math.max(agentPeak, process.memoryUsage.rss());
  // The SQL process reports its peak with each reply (it may be restarted right after a bomb).
  const peak = tools.engine.lastMemory?.peakRssBytes;
  const sqlPeakMiB = peak === null || peak === undefined ? peakRssMiB(pid) : peak / MiB;
  const outcome = result.ok ? "ok" : `${result.error.code} retryable=${result.error.retryable}`;
  console.log(
    `${label}: ${outcome} in ${ms.toFixed(0)} ms; peak RSS agent ${(agentPeak / MiB).toFixed(0)} MiB, SQL process ${sqlPeakMiB?.toFixed(0) ?? "n/a"} MiB` +
      (result.ok ? "" : `\n  ${result.error.message.split("\n")[0]}`),
  );
  return { result, ms, agentPeakMiB: agentPeak / MiB, sqlPeakMiB };
}

/** How a refused call went, in the terms the tests check. */
interface Refusal {
  readonly code: string;
  readonly retryable: boolean;
  /** The message names the limit that was hit. */
  readonly namesLimit: boolean;
  /** Loose bounds only: "within seconds" … */
  readonly withinSeconds: boolean;
  /** … and "nowhere near the size of the bomb" (agent < 1 GiB, SQL process < 2.5 GiB). */
  readonly memoryBounded: boolean;
}

/** The refusal `p` ended in; `limit` is what its message must name. */
function refusal(p: Probe, limit: RegExp, maxMs = 8_000): Refusal | "ok" {
  if (p.result.ok) return "ok";
  return {
    code: p.result.error.code,
    retryable: p.result.error.retryable,
    namesLimit: limit.test(p.result.error.message),
    withinSeconds: p.ms < maxMs,
    memoryBounded: p.agentPeakMiB < 1_024 && (p.sqlPeakMiB === undefined || p.sqlPeakMiB < 2_560),
  };
}

/** The refusal every bomb must end in: `code`, not retryable, naming the limit, fast, bounded. */
const refused = (code: string): Refusal => ({ code, retryable: false, namesLimit: true, withinSeconds: true, memoryBounded: true });

beforeAll(async () => {
  const started = performance.now();
  [data, quick] = await Promise.all([
    createDataTools({ datasetsDir: "" }),
    createDataTools({ datasetsDir: "", limits: { timeoutMs: 2_000 } }),
  ]);
  console.log(`data tools loaded in ${(performance.now() - started).toFixed(0)} ms`);
});
afterAll(() => {
  data?.close();
  quick?.close();
});

describe("sql_query refuses resource bombs quickly and for good", () => {
  it("a 2-billion-character repeat() (string bomb): memory limit, TOOL_REFUSED", async () => {
    const p = await probe(data, "repeat('x', 2e9)", "SELECT repeat('x', 2000000000) AS s");
    expect(refusal(p, /memory limit/)).toEqual(refused("TOOL_REFUSED"));
  });

  it("a billion-element range() list (list bomb): memory limit, TOOL_REFUSED", async () => {
    const p = await probe(data, "range(1e9)", "SELECT range(1000000000) AS l");
    expect(refusal(p, /memory limit/)).toEqual(refused("TOOL_REFUSED"));
  });

  it("a list() aggregate over a billion rows (growing list bomb): memory limit, TOOL_REFUSED", async () => {
    const p = await probe(data, "list(i) over range(1e9)", "SELECT list(i) AS l FROM range(1000000000) t(i)");
    expect(refusal(p, /memory limit/)).toEqual(refused("TOOL_REFUSED"));
  });

  it("a 100-MB string that fits in memory: value cap SQL_MAX_VALUE_BYTES, TOOL_OUTPUT_TOO_LARGE", async () => {
    const p = await probe(data, "repeat('x', 1e8)", "SELECT repeat('x', 100000000) AS s");
    expect(refusal(p, /SQL_MAX_VALUE_BYTES/)).toEqual(refused("TOOL_OUTPUT_TOO_LARGE"));
  });

  it("a ten-million-element list that fits in memory: value cap, TOOL_OUTPUT_TOO_LARGE", async () => {
    const p = await probe(data, "range(1e7)", "SELECT 1 AS a, range(10000000) AS l");
    expect(refusal(p, /SQL_MAX_VALUE_BYTES/)).toEqual(refused("TOOL_OUTPUT_TOO_LARGE"));
  });

  it("5,000 rows of 10 kB each: result cap SQL_MAX_RESULT_BYTES while streaming, TOOL_OUTPUT_TOO_LARGE", async () => {
    const p = await probe(data, "5000 × 10 kB rows", "SELECT i, repeat('y', 10000) AS s FROM range(1000000) t(i)", 5_000);
    expect(refusal(p, /SQL_MAX_RESULT_BYTES/)).toEqual(refused("TOOL_OUTPUT_TOO_LARGE"));
  });

  it("a cross join that must be materialized (ORDER BY over 10^10 rows): memory limit (no spilling) or time limit", async () => {
    // About 2 s to fill 1 GB on an idle machine; on a busy one the 10 s time limit may come first.
    const p = await probe(data, "sorted cross join", "SELECT * FROM range(100000) a, range(100000) b ORDER BY a.range DESC, b.range DESC");
    const r = refusal(p, /memory limit|time limit/, 15_000);
    expect(r).toEqual(refused(r !== "ok" && r.code === "TOOL_TIMEOUT" ? "TOOL_TIMEOUT" : "TOOL_REFUSED"));
  });

  it("a CPU-bound cross join (10^11 pairs): its own time limit, TOOL_TIMEOUT not retryable, and the query stops", async () => {
    const p = await probe(quick, "count(*) over a 1e8 × 1e3 cross join", "SELECT count(*) FROM range(100000000) a, range(1000) b");
    expect(refusal(p, /2,000 ms time limit \(SQL_TIMEOUT_MS\)/)).toEqual(refused("TOOL_TIMEOUT"));
    // The query was interrupted: the SQL process goes idle, and the next query runs at once.
    const pid = quick.engine.pid;
    const before = cpuMs(pid);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = cpuMs(pid);
    if (before !== undefined && after !== undefined) {
      console.log(`SQL process CPU over the 500 ms after the refusal: ${(after - before).toFixed(0)} ms`);
      expect(after - before).toBeLessThan(250);
    }
    const next = await probe(quick, "next query", "SELECT count(*) AS n FROM cars");
    expect(next.result).toMatchObject({ ok: true, output: { rows: [{ n: 406 }] } });
  });

  it("a query that ignores the interrupt (one 80,000² levenshtein) is stopped by restarting its process", async () => {
    const pid = quick.engine.pid;
    const p = await probe(
      quick,
      "levenshtein of two 80,000-character strings",
      "SELECT levenshtein(repeat('a', 80000), repeat('b', 80000)) AS d",
    );
    expect(refusal(p, /2,000 ms time limit \(SQL_TIMEOUT_MS\) and was stopped by restarting the SQL process/)).toEqual(
      refused("TOOL_TIMEOUT"),
    );
    expect(quick.engine.pid).not.toBe(pid);
    const next = await probe(quick, "next query, on the new process", "SELECT count(*) AS n FROM penguins");
    expect(next.result).toMatchObject({ ok: true, output: { rows: [{ n: 344 }] } });
  });

  it("a step whose query blows a limit fails once: not retryable, so the worker does not redeliver it", async () => {
    const registry = new ToolRegistry(data.tools);
    const work = StepWork.parse({
      schemaVersion: 1,
      taskId: "t",
      stepId: "bomb",
      agent: "data",
      dispatchId: "dispatch-1",
      goal: "regression of issue 9, item 8",
      instruction: "string bomb",
      toolCalls: [{ tool: "sql_query", args: { sql: "SELECT repeat('x', 2000000000) AS s" } }],
      inputs: {},
      attempt: 1,
      dispatchedAt: new Date().toISOString(),
    });
    const run = await runStepToolCalls(work, registry, new AbortController().signal, {});
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ code: "TOOL_REFUSED", retryable: false });
  });

  it("a memory failure while another query shares the engine is retryable (TOOL_FAILED)", async () => {
    const started = performance.now();
    const [bomb, other] = await Promise.allSettled([
      data.engine.query("SELECT list(i) AS l FROM range(1000000000) t(i)"),
      data.engine.query("SELECT count(*) AS n FROM range(30000000) a, range(10) b"),
    ]);
    console.log(
      `list() bomb next to another query: ${bomb.status === "rejected" ? `${(bomb.reason as ToolError).code} retryable=${(bomb.reason as ToolError).retryable}` : "ok"}, other: ${other.status} (${(performance.now() - started).toFixed(0)} ms)`,
    );
    expect(bomb.status).toBe("rejected");
    if (bomb.status !== "rejected") return;
    expect(bomb.reason).toBeInstanceOf(ToolError);
    expect(bomb.reason).toMatchObject({ code: "TOOL_FAILED", retryable: true });
    expect((bomb.reason as ToolError).message).toMatch(/other queries ran at the same time/);
  });

  const nested: [string, string][] = [
    ["a list", "SELECT [repeat('x', 70000)] AS v"],
    ["a struct", "SELECT {'a': repeat('x', 70000)} AS v"],
    ["a map", "SELECT map([1], [repeat('x', 70000)]) AS v"],
    ["an array", "SELECT array_value(repeat('x', 70000)) AS v"],
    ["a union", "SELECT union_value(k := repeat('x', 70000)) AS v"],
    ["a blob", "SELECT repeat('x', 70000)::BLOB AS v"],
    ["multi-byte characters", "SELECT repeat('é', 40000) AS v"],
  ];
  it.each(nested)("sizes a value over SQL_MAX_VALUE_BYTES inside %s before converting it", async (_label, sql) => {
    const error = await data.engine.query(sql).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "TOOL_OUTPUT_TOO_LARGE", retryable: false });
    expect((error as Error).message).toMatch(
      /column "v" in row 1 takes at least \d{2},\d{3} bytes of JSON; one value may take 65,536 bytes \(SQL_MAX_VALUE_BYTES\)/,
    );
  });

  it("passes NULLs and small nested values of every kind", async () => {
    const out = await data.engine.query(
      "SELECT NULL::VARCHAR AS s, [1, 2, NULL] AS l, {'a': 'x', 'b': NULL} AS st, map([1], ['y']) AS m, [1, 2]::INTEGER[2] AS arr, NULL::INTEGER[] AS nl, CASE WHEN i = 0 THEN repeat('x', 60000) END AS big FROM range(2) t(i)",
    );
    expect(out.rows[1]).toEqual({
      s: null,
      l: [1, 2, null],
      st: { a: "x", b: null },
      m: [{ key: 1, value: "y" }],
      arr: [1, 2],
      nl: null,
      big: null,
    });
    expect(out.rows[0]?.["big"]).toBe("x".repeat(60_000));
  });

  it("still answers ordinary queries after the bombs", async () => {
    const p = await probe(data, "ordinary query", "SELECT count(*) AS n, max(temp_max) AS hottest FROM seattle_weather");
    expect(p.result).toMatchObject({ ok: true, output: { rows: [{ n: 1461, hottest: 35.6 }] } });
  });
});

describe("data agent settings", () => {
  const worker = { MAX_TOOL_OUTPUT_BYTES: 262_144 };

  it("defaults: 1GB DuckDB, 10 s, the result cap of the executor, 64 KiB values, no spilling", () => {
    const env = DataAgentEnv.parse({});
    expect(env).toMatchObject({ DUCKDB_MEMORY_LIMIT: "1GB", SQL_TIMEOUT_MS: 10_000, SQL_MAX_VALUE_BYTES: 65_536 });
    expect(env.DUCKDB_TEMP_DIRECTORY).toBeUndefined();
    expect(dataToolsOptions({ ...env, ...worker })).toMatchObject({
      memoryLimit: "1GB",
      limits: { timeoutMs: 10_000, maxResultBytes: 262_144, maxValueBytes: 65_536 },
    });
    expect(dataToolsOptions({ ...env, MAX_TOOL_OUTPUT_BYTES: 1_000_000 }).limits?.maxResultBytes).toBe(1_000_000);
  });

  it("reads the limits from the environment, with units in their names", () => {
    const env = DataAgentEnv.parse({
      DUCKDB_MEMORY_LIMIT: "512MB",
      DUCKDB_THREADS: "2",
      SQL_TIMEOUT_MS: "3000",
      SQL_MAX_RESULT_BYTES: "100000",
      SQL_MAX_VALUE_BYTES: "1000",
      SQL_PROCESS_MEMORY_LIMIT_BYTES: String(2 ** 31),
    });
    expect(dataToolsOptions({ ...env, ...worker })).toMatchObject({
      memoryLimit: "512MB",
      threads: 2,
      processMemoryLimitBytes: 2 ** 31,
      limits: { timeoutMs: 3_000, maxResultBytes: 100_000, maxValueBytes: 1_000 },
    });
  });

  it("refuses bad values, naming the variable", () => {
    expect(DataAgentEnv.safeParse({ DUCKDB_MEMORY_LIMIT: "lots" }).success).toBe(false);
    expect(DataAgentEnv.safeParse({ SQL_PROCESS_MEMORY_LIMIT_BYTES: "1000" }).success).toBe(false);
    expect(DataAgentEnv.safeParse({ SQL_MAX_RESULT_BYTES: String(64 * 2 ** 20) }).success).toBe(false);
    const env = DataAgentEnv.parse({ SQL_MAX_VALUE_BYTES: "500000" });
    expect(() => dataToolsOptions({ ...env, ...worker })).toThrow(/SQL_MAX_VALUE_BYTES/);
  });

  it("runs the SQL process under the data-segment limit it was given (Linux)", () => {
    const info = data.engine.processInfo;
    console.log(
      `SQL process: RLIMIT_DATA ${info.dataLimitBytes} bytes (configured ${data.engine.processMemoryLimitBytes}), VmData after loading ${info.memory.dataBytes}, RSS ${info.memory.rssBytes}`,
    );
    if (process.platform !== "linux") return;
    expect(info.dataLimitBytes).toBe(Math.floor(data.engine.processMemoryLimitBytes / 1024) * 1024);
    expect(data.engine.processMemoryLimitBytes).toBe(1_000_000_000 + 2 ** 30);
  });

  it("keeps a BatonError for TOOL_OUTPUT_TOO_LARGE across the process boundary", async () => {
    const error = await data.engine.query("SELECT repeat('z', 70000) AS s").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BatonError);
    expect(error).toMatchObject({ code: "TOOL_OUTPUT_TOO_LARGE", retryable: false });
  });
});
