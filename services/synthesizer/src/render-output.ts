import { jsonPointerGet, type ToolDisplay } from "@baton/contracts";

/**
 * Renders one step output as Markdown. With the tool's declared {@link ToolDisplay}, the part at
 * its `path` is shown as declared (table, Markdown, quoted text or a JSON block); without one, or
 * when that part does not have the declared shape, by its shape ({@link renderValue}).
 * Deterministic: the same output always gives the same text. Long values are cut with a note.
 */
export function renderOutput(output: unknown, display?: ToolDisplay): string {
  if (output === undefined || output === null) return "_(no output)_";
  if (display) {
    let part: unknown;
    try {
      part = jsonPointerGet(output, display.path);
    } catch {
      return renderValue(output);
    }
    const shown = display.format ? renderAs(display.format, part) : renderValue(part);
    if (shown !== undefined) return `${shown}${truncatedNote(output, display.path)}`;
  }
  return renderValue(output);
}

function renderAs(format: NonNullable<ToolDisplay["format"]>, part: unknown): string | undefined {
  switch (format) {
    case "table":
      if (Array.isArray(part) && part.length === 0) return "_(no rows)_";
      return isRows(part) ? table(part, 25) : undefined;
    case "markdown":
      return typeof part === "string" ? cut(part, 8_000) : undefined;
    case "text":
      return typeof part === "string" ? quote(cut(part, 2_500)) : undefined;
    case "json":
      return `\`\`\`json\n${cut(JSON.stringify(part, null, 2) ?? "null", 3_000)}\n\`\`\``;
  }
}

/** A note when the object holding the shown part says `truncated: true` (a row limit, a byte limit). */
function truncatedNote(output: unknown, path: string): string {
  if (path === "" || output === null || typeof output !== "object") return "";
  const parentPath = path.slice(0, path.lastIndexOf("/"));
  let parent: unknown;
  try {
    parent = jsonPointerGet(output, parentPath);
  } catch {
    return "";
  }
  return parent !== null && typeof parent === "object" && (parent as Record<string, unknown>)["truncated"] === true
    ? "\n\n_(the tool cut this output at its limit)_"
    : "";
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
