/** Per-query limits of {@link SqlEngine.query}, enforced while the query runs and its result is read. */
export interface SqlLimits {
  /**
   * Wall-clock limit of one query in ms, from the moment it is sent to DuckDB; the query is then
   * interrupted. Default {@link DEFAULT_SQL_TIMEOUT_MS}.
   */
  readonly timeoutMs: number;
  /**
   * Largest result, in bytes of row JSON, counted while the result streams in: reading stops and
   * the query is interrupted once the rows read so far are larger. Default {@link DEFAULT_SQL_MAX_RESULT_BYTES}.
   */
  readonly maxResultBytes: number;
  /**
   * Largest single value (string, blob, list, map, struct…), in bytes of its JSON, checked on
   * DuckDB's vectors before the value is converted to JavaScript. Default {@link DEFAULT_SQL_MAX_VALUE_BYTES}.
   */
  readonly maxValueBytes: number;
}

/** Default {@link SqlLimits.timeoutMs}: 10,000 ms. */
export const DEFAULT_SQL_TIMEOUT_MS = 10_000;
/** Default {@link SqlLimits.maxResultBytes}: 262,144 bytes, the worker's default `MAX_TOOL_OUTPUT_BYTES`. */
export const DEFAULT_SQL_MAX_RESULT_BYTES = 262_144;
/** Default {@link SqlLimits.maxValueBytes}: 65,536 bytes. */
export const DEFAULT_SQL_MAX_VALUE_BYTES = 65_536;
/** Largest accepted {@link SqlLimits.maxResultBytes}: 16 MiB (the SQL process's JavaScript heap is 256 MiB). */
export const MAX_SQL_RESULT_BYTES = 16 * 1024 * 1024;

/** The default limits. */
export const DEFAULT_SQL_LIMITS: SqlLimits = {
  timeoutMs: DEFAULT_SQL_TIMEOUT_MS,
  maxResultBytes: DEFAULT_SQL_MAX_RESULT_BYTES,
  maxValueBytes: DEFAULT_SQL_MAX_VALUE_BYTES,
};

/**
 * `limits` over the defaults, checked.
 * @throws RangeError for a non-positive or non-integer limit, a result cap above
 *   {@link MAX_SQL_RESULT_BYTES}, or a value cap above the result cap.
 */
export function resolveSqlLimits(limits: Partial<SqlLimits> = {}): SqlLimits {
  const resolved = { ...DEFAULT_SQL_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isInteger(value) || value <= 0) throw new RangeError(`SQL limit ${name} must be a positive integer, got ${value}`);
  }
  if (resolved.maxResultBytes > MAX_SQL_RESULT_BYTES) {
    throw new RangeError(`SQL limit maxResultBytes must be at most ${MAX_SQL_RESULT_BYTES}, got ${resolved.maxResultBytes}`);
  }
  if (resolved.maxValueBytes > resolved.maxResultBytes) {
    throw new RangeError(`SQL limit maxValueBytes (${resolved.maxValueBytes}) must not exceed maxResultBytes (${resolved.maxResultBytes})`);
  }
  return resolved;
}

/** DuckDB's size syntax, as `DUCKDB_MEMORY_LIMIT` takes it: `512MB`, `1GB`, `1.5GiB` (KB/MB/GB/TB are powers of 1000). */
export const DUCKDB_SIZE = /^(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i;

const UNIT_BYTES: Readonly<Record<string, number>> = {
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * Bytes of a size in DuckDB's syntax ({@link DUCKDB_SIZE}), e.g. `1GB` → 1,000,000,000.
 * @throws RangeError for anything else.
 */
export function duckDbSizeBytes(size: string): number {
  const m = DUCKDB_SIZE.exec(size.trim());
  const factor = m?.[2] === undefined ? undefined : UNIT_BYTES[m[2].toLowerCase()];
  if (!m || factor === undefined) throw new RangeError(`"${size}" is not a size such as 512MB or 1GB`);
  return Math.floor(Number(m[1]) * factor);
}

/**
 * Address space the SQL process may use on top of DuckDB's memory limit by default: 1 GiB. About
 * 0.85 GiB of it is what Node.js reserves without using (V8's 512 MiB code range, thread stacks,
 * heap reservations); the rest covers values DuckDB builds outside its buffer manager.
 */
export const SQL_PROCESS_HEADROOM_BYTES = 2 ** 30;

/** Default limit of the SQL process's writable address space: DuckDB's memory limit plus {@link SQL_PROCESS_HEADROOM_BYTES}. */
export function defaultProcessMemoryLimitBytes(duckDbMemoryLimit: string): number {
  return duckDbSizeBytes(duckDbMemoryLimit) + SQL_PROCESS_HEADROOM_BYTES;
}
