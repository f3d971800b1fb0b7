import type { DuckDBDataChunk, DuckDBResult } from "@duckdb/node-api";
import { type JsonValue, toJsonValue } from "./json-values.ts";
import type { SqlLimits } from "./limits.ts";
import { resultTooLarge, valueTooLarge } from "./sql-errors.ts";
import { jsonBytesAtLeast } from "./value-size.ts";

/** What {@link readCapped} read. */
export interface CappedRows {
  /** At most `maxRows` row objects keyed by the (de-duplicated) column names, JSON-safe. */
  readonly rows: Record<string, JsonValue>[];
  /** True when the query had more than `maxRows` rows (the rest were never read). */
  readonly truncated: boolean;
  /** Bytes of `rows` as JSON. */
  readonly bytes: number;
}

/**
 * Reads a streaming result chunk by chunk (DuckDB computes the next chunks only as they are
 * fetched) and stops at `maxRows` rows or at the first limit broken. Before a row is converted to
 * JavaScript, each of its values is sized on DuckDB's vectors ({@link jsonBytesAtLeast}) against
 * `maxValueBytes`, and the row's lower bound against what is left of `maxResultBytes`; after
 * conversion the exact JSON sizes are checked again. So at most one row beyond the caps is ever
 * converted, and that row's values are each within `maxValueBytes`.
 * @throws BatonError `TOOL_OUTPUT_TOO_LARGE` naming SQL_MAX_VALUE_BYTES or SQL_MAX_RESULT_BYTES;
 *   the caller should then interrupt the query, which may still be producing rows.
 */
export async function readCapped(
  result: DuckDBResult,
  names: readonly string[],
  maxRows: number,
  limits: Pick<SqlLimits, "maxResultBytes" | "maxValueBytes">,
): Promise<CappedRows> {
  const rows: Record<string, JsonValue>[] = [];
  let bytes = 2; // []
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) return { rows, truncated: false, bytes };
    for (let r = 0; r < chunk.rowCount; r++) {
      if (rows.length === maxRows) return { rows, truncated: true, bytes };
      precheckRow(chunk, r, rows.length, names, limits, bytes);
      const values = chunk.convertRowValues(r, toJsonValue);
      // Object.fromEntries, so a column named `__proto__` stays a plain key.
      const row = Object.fromEntries(names.map((name, c) => [name, values[c] ?? null]));
      bytes = checkRow(row, names, rows.length, limits, bytes);
      rows.push(row);
    }
  }
}

/**
 * Sizes row `r` of `chunk` before conversion: each value within `maxValueBytes`, the row within
 * what `maxResultBytes` leaves after `soFar` bytes (the exact size is added after conversion).
 * @throws BatonError `TOOL_OUTPUT_TOO_LARGE`.
 */
function precheckRow(
  chunk: DuckDBDataChunk,
  r: number,
  rowIndex: number,
  names: readonly string[],
  limits: Pick<SqlLimits, "maxResultBytes" | "maxValueBytes">,
  soFar: number,
): void {
  let row = 2; // {}
  for (let c = 0; c < names.length; c++) {
    const name = names[c] ?? "";
    const value = jsonBytesAtLeast(chunk.getColumnVector(c), r, limits.maxValueBytes);
    if (value > limits.maxValueBytes) throw valueTooLarge(name, rowIndex, value, limits.maxValueBytes);
    row += Buffer.byteLength(name) + 4 + value; // "name": value,
    if (soFar + row > limits.maxResultBytes) throw resultTooLarge(rowIndex + 1, soFar + row, limits.maxResultBytes);
  }
}

/** The exact JSON sizes of a converted row's values and of the rows so far; returns the new total. */
function checkRow(
  row: Record<string, JsonValue>,
  names: readonly string[],
  rowIndex: number,
  limits: Pick<SqlLimits, "maxResultBytes" | "maxValueBytes">,
  soFar: number,
): number {
  for (const name of names) {
    const value = Buffer.byteLength(JSON.stringify(row[name] ?? null));
    if (value > limits.maxValueBytes) throw valueTooLarge(name, rowIndex, value, limits.maxValueBytes);
  }
  const total = soFar + Buffer.byteLength(JSON.stringify(row)) + 1; // and a comma
  if (total > limits.maxResultBytes) throw resultTooLarge(rowIndex + 1, total, limits.maxResultBytes);
  return total;
}
