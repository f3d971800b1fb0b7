import { ToolError } from "@baton/tools";

// First keywords of statements that only read. DuckDB's own statement type is checked as well;
// this list exists because DuckDB rewrites some non-reads (PRAGMA, IMPORT) before they get a type.
const READ_KEYWORDS = new Set([
  "select",
  "with",
  "from",
  "values",
  "table",
  "describe",
  "summarize",
  "show",
  "explain",
  "pivot",
  "unpivot",
]);

/** The first keyword of `sql` (lower case) and the offset just after it, skipping whitespace, comments and `(`. */
export function leadingKeyword(sql: string, from = 0): { keyword: string; end: number } {
  let i = from;
  while (i < sql.length) {
    const ch = sql[i] ?? "";
    if (/\s/.test(ch) || ch === "(") i += 1;
    else if (sql.startsWith("--", i)) {
      const nl = sql.indexOf("\n", i);
      i = nl === -1 ? sql.length : nl + 1;
    } else if (sql.startsWith("/*", i)) {
      // Postgres-style block comments nest; DuckDB's parser is derived from Postgres'.
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith("/*", i)) {
          depth += 1;
          i += 2;
        } else if (sql.startsWith("*/", i)) {
          depth -= 1;
          i += 2;
        } else i += 1;
      }
    } else break;
  }
  const word = /^[A-Za-z_]+/.exec(sql.slice(i))?.[0] ?? "";
  return { keyword: word.toLowerCase(), end: i + word.length };
}

/** A `TOOL_REFUSED` error with `reason` as its message. */
export const refuse = (reason: string): ToolError => new ToolError("TOOL_REFUSED", reason);

/**
 * Cheap pre-parse check: the statement must start with a read keyword (SELECT, WITH, FROM, VALUES,
 * TABLE, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN, PIVOT, UNPIVOT), after comments and `(`.
 * Returns the keyword and the offset after it.
 * @throws ToolError `TOOL_REFUSED` otherwise (empty input included).
 */
export function checkReadKeyword(sql: string, from = 0): { keyword: string; end: number } {
  const lead = leadingKeyword(sql, from);
  if (lead.keyword === "") throw refuse("no SQL statement found; send one SELECT query");
  if (!READ_KEYWORDS.has(lead.keyword)) {
    throw refuse(
      `only read-only queries are allowed (SELECT, WITH … SELECT, DESCRIBE, SUMMARIZE, SHOW, EXPLAIN); ${lead.keyword.toUpperCase()} statements are refused`,
    );
  }
  return lead;
}
