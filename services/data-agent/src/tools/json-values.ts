import { DuckDBDecimalValue, DuckDBTypeId, type DuckDBValueConverter, JsonDuckDBValueConverter } from "@duckdb/node-api";

/** A JSON value: what query results are converted to. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);
const TIMESTAMP_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ,
]);
const DUCKDB_TIMESTAMP = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)(?:([+-]\d\d)(?::?(\d\d))?)?$/;

/**
 * DuckDB value → JSON value, recursing into lists, structs and maps. Integers beyond 32 bits
 * (BIGINT, HUGEINT, …) → number when a safe integer, else decimal string; DECIMAL → number when
 * at most 15 digits (exact in a double), else string; DATE → `YYYY-MM-DD`; TIMESTAMP →
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]` (TIMESTAMPTZ in UTC with `+00:00`); NaN/±Infinity and
 * infinite dates → strings; everything else as DuckDB's JSON converter gives it.
 */
export const toJsonValue: DuckDBValueConverter<JsonValue> = (value, type, converter) => {
  if (value === null) return null;
  if (INTEGER_TYPES.has(type.typeId) && typeof value === "bigint") {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value.toString();
  }
  if (type.typeId === DuckDBTypeId.DECIMAL && value instanceof DuckDBDecimalValue) {
    return value.width <= 15 ? Number(value.toString()) : value.toString();
  }
  if (TIMESTAMP_TYPES.has(type.typeId)) {
    const text = String(value);
    const m = DUCKDB_TIMESTAMP.exec(text);
    if (!m) return text; // infinity, BC dates
    return `${m[1]}T${m[2]}${m[3] === undefined ? "" : `${m[3]}:${m[4] ?? "00"}`}`;
  }
  return JsonDuckDBValueConverter(value, type, converter);
};
