import { BatonError } from "@baton/core";
import { ToolError } from "@baton/tools";

// The errors of `sql_query`, and which of them are worth retrying. A query that blows a limit on
// its own will blow it again: those failures are not retryable, so the worker reports the step
// once instead of redelivering it. Only when other queries shared the engine at the time (their
// memory and CPU count too) is a memory or time failure retryable.
//   memory limit  → TOOL_REFUSED: the tool does not run queries that need more memory than it
//                   has; the same query is refused again ("do not retry it unchanged").
//   time limit    → TOOL_TIMEOUT with retryable false: what happened, and that retrying is useless.
//   result/value  → TOOL_OUTPUT_TOO_LARGE: the executor's own code for an oversized output,
//   caps            found while streaming instead of after materializing everything.

/** What the messages name: the tables to query instead, and the limits in force. */
export interface ErrorContext {
  /** Loaded table names, comma-separated. */
  readonly tables: string;
  /** DuckDB's memory limit as configured, e.g. `1GB`. */
  readonly memoryLimit: string;
  /** The SQL process's address-space limit in bytes, when it runs in one. */
  readonly processMemoryLimitBytes?: number | undefined;
}

/** How one query run went, as far as its errors are concerned. */
export interface RunState {
  /** Another query ran at some moment of this one's life (they share memory and threads). */
  readonly shared: boolean;
  /** Its own time limit interrupted it. */
  readonly timedOut: boolean;
  /** That time limit, in ms. */
  readonly timeoutMs: number;
}

const count = (n: number): string => n.toLocaleString("en-US");
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

const SHARED_NOTE = "while other queries ran at the same time; retrying may succeed";

/**
 * The query ran past its own time limit (`timeoutMs`, ms) and was stopped (`how`: interrupted, or
 * the SQL process restarted). Not retryable unless `shared`.
 */
export function timeLimitExceeded(timeoutMs: number, shared: boolean, how = "was interrupted"): ToolError {
  const what = `query exceeded its ${count(timeoutMs)} ms time limit (SQL_TIMEOUT_MS) and ${how}`;
  return shared
    ? new ToolError("TOOL_TIMEOUT", `${what} ${SHARED_NOTE}`, { retryable: true })
    : new ToolError(
        "TOOL_TIMEOUT",
        `${what}; it would time out again: filter or aggregate earlier, avoid cross joins, huge ranges and long strings`,
      );
}

/** The call's signal aborted (step cancelled or timed out from outside): retryable, as before. */
export function cancelled(cause?: unknown): ToolError {
  return new ToolError("TOOL_TIMEOUT", "query interrupted (cancelled or timed out)", { cause, retryable: true });
}

/** The query needed more memory than allowed. `TOOL_REFUSED` alone, retryable `TOOL_FAILED` when `shared`. */
export function memoryExceeded(ctx: ErrorContext, shared: boolean, detail: string, cause?: unknown): ToolError {
  const process =
    ctx.processMemoryLimitBytes === undefined
      ? ""
      : `, and ${gib(ctx.processMemoryLimitBytes)} of address space for the SQL process (SQL_PROCESS_MEMORY_LIMIT_BYTES)`;
  const what = `query needs more memory than the memory limit allows: DuckDB may use ${ctx.memoryLimit} (DUCKDB_MEMORY_LIMIT)${process}`;
  if (shared) return new ToolError("TOOL_FAILED", `${what}; it ran out ${SHARED_NOTE}. ${detail}`, { cause, retryable: true });
  return new ToolError(
    "TOOL_REFUSED",
    `${what}. Aggregate or filter in SQL; avoid huge strings and lists (repeat, range, list, string_agg) and cross joins. ${detail}`,
    { cause },
  );
}

/** One value is larger than `limit` bytes of JSON. */
export function valueTooLarge(column: string, row: number, bytes: number, limit: number): BatonError {
  return new BatonError(
    "TOOL_OUTPUT_TOO_LARGE",
    `the value of column "${column}" in row ${count(row + 1)} takes at least ${count(bytes)} bytes of JSON; one value may take ${count(limit)} bytes (SQL_MAX_VALUE_BYTES). Return a shorter value (left(s, 200), len(list), list_slice) or an aggregate`,
  );
}

/** The rows read so far exceed `limit` bytes of JSON; reading stopped at row `rows`. */
export function resultTooLarge(rows: number, bytes: number, limit: number): BatonError {
  return new BatonError(
    "TOOL_OUTPUT_TOO_LARGE",
    `the result exceeds ${count(limit)} bytes of JSON (SQL_MAX_RESULT_BYTES): ${count(rows)} rows already take at least ${count(bytes)} bytes, so reading stopped. Select fewer columns or rows (a smaller maxRows, LIMIT) or aggregate`,
  );
}

/** A DuckDB error as a tool error: refusals, memory, interruptions, the rest SQL failures. */
export function toToolError(error: unknown, ctx: ErrorContext, run: RunState | undefined, aborted: boolean): ToolError | BatonError {
  if (error instanceof ToolError || error instanceof BatonError) return error;
  const message = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
  if (run?.timedOut) return timeLimitExceeded(run.timeoutMs, run.shared);
  if (/^INTERRUPT Error/.test(message) || aborted) return cancelled(error);
  if (/Out of Memory Error|bad_alloc|failed to allocate/i.test(message)) {
    return memoryExceeded(ctx, run?.shared ?? false, `DuckDB: ${message.split("\n")[0] ?? message}`, error);
  }
  if (/Permission Error|file system operations are disabled|configuration has been locked|extensions is disabled/i.test(message)) {
    return new ToolError(
      "TOOL_REFUSED",
      `file, network and extension access are disabled; query the loaded tables (${ctx.tables}) instead. DuckDB: ${message}`,
      { cause: error },
    );
  }
  return new ToolError("TOOL_FAILED", `SQL error: ${message}`, { cause: error });
}
