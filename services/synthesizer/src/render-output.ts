/**
 * Renders one step output as Markdown, by the shape its tool returns. Deterministic: the same
 * output always gives the same text. Long values are cut with a visible note.
 */
export function renderOutput(tool: string | undefined, output: unknown): string {
  if (output === undefined || output === null) return "_(no output)_";
  const o = output as Record<string, unknown>;
  if (isRows(o.rows) && Array.isArray(o.columns)) {
    return `${table(o.rows, 25)}${o.truncated ? "\n\n_(result truncated by the row limit)_" : ""}`;
  }
  if (tool === "search_documents" && Array.isArray(o.hits)) {
    const hits = o.hits as { id: string; title?: string; heading?: string; snippet?: string; score?: number }[];
    if (hits.length === 0) return `_No documents matched "${typeof o.query === "string" ? o.query : ""}"._`;
    return hits
      .map((h) => `- **${h.heading ?? h.title ?? h.id}** (\`${h.id}\`, score ${num(h.score ?? 0)}) — ${oneLine(h.snippet ?? "", 220)}`)
      .join("\n");
  }
  if (tool === "read_document" && typeof o.text === "string") {
    const source = `\`${String(o.id)}\`${typeof o.heading === "string" ? ` — ${o.heading}` : ""}`;
    return `From ${source}${o.truncated ? " (excerpt)" : ""}:\n\n${quote(cut(o.text, 2_500))}`;
  }
  if (tool === "evaluate_expression" && "result" in o) {
    return `\`${String(o.expression)}\` = **${typeof o.result === "number" ? num(o.result) : String(o.result)}**`;
  }
  if (tool === "run_javascript" && "result" in o) {
    const logs =
      Array.isArray(o.logs) && o.logs.length > 0
        ? `\n\nConsole output:\n\n\`\`\`\n${cut((o.logs as string[]).join("\n"), 1_500)}\n\`\`\``
        : "";
    return `${renderValue(o.result)}${logs}`;
  }
  return renderValue(output);
}

/** Renders a JSON value: a table for rows, a list for flat objects, else a JSON block. */
export function renderValue(value: unknown): string {
  if (isRows(value)) return table(value, 25);
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.every(([, v]) => v === null || typeof v !== "object")) {
      return entries.map(([k, v]) => `- **${k}**: ${typeof v === "number" ? num(v) : String(v)}`).join("\n");
    }
    // One level of nesting with row arrays: render each part under a label.
    if (entries.every(([, v]) => v === null || typeof v !== "object" || isRows(v))) {
      return entries
        .map(([k, v]) => (isRows(v) ? `**${k}**\n\n${table(v, 15)}` : `- **${k}**: ${typeof v === "number" ? num(v) : String(v)}`))
        .join("\n\n");
    }
  }
  if (typeof value === "number") return `**${num(value)}**`;
  if (typeof value === "string") return cut(value, 3_000);
  return `\`\`\`json\n${cut(JSON.stringify(value, null, 2), 3_000)}\n\`\`\``;
}

function isRows(value: unknown): value is Record<string, unknown>[] {
  return Array.isArray(value) && value.length > 0 && value.every((r) => r !== null && typeof r === "object" && !Array.isArray(r));
}

function table(rows: Record<string, unknown>[], max: number): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = `| ${columns.join(" | ")} |\n| ${columns.map(() => "---").join(" | ")} |`;
  const body = rows
    .slice(0, max)
    .map((r) => `| ${columns.map((c) => cell(r[c])).join(" | ")} |`)
    .join("\n");
  const more = rows.length > max ? `\n\n_(${rows.length - max} more rows not shown)_` : "";
  return `${head}\n${body}${more}`;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return num(v);
  const s = typeof v === "object" ? JSON.stringify(v) : String(v as string | number | boolean | bigint);
  return oneLine(s, 80).replaceAll("|", "\\|");
}

/** Numbers with at most 2 decimals, integers as they are. */
function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(2)));
}

function oneLine(s: string, max: number): string {
  return cut(s.replace(/\s+/g, " ").trim(), max);
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}

function quote(s: string): string {
  return s
    .split("\n")
    .map((l) => `> ${l}`)
    .join("\n");
}
