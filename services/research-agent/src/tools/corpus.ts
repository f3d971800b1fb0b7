import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import MiniSearch, { type SearchResult } from "minisearch";

/** Node.js API docs shipped by Debian's `nodejs` package: one Markdown file per module. */
export const DEFAULT_CORPUS_DIR = "/usr/share/doc/nodejs/api";

/** Options of {@link loadCorpus}. */
export interface CorpusOptions {
  /** Deepest heading level (1–6) that starts a new section; deeper headings stay inside. Default 3. */
  readonly maxHeadingDepth?: number;
}

/** Figures measured while loading, for logs and health checks. */
export interface CorpusStats {
  readonly dir: string;
  readonly docs: number;
  readonly sections: number;
  /** Total UTF-8 size of the Markdown files, in bytes. */
  readonly bytes: number;
  /** Wall-clock time to read, split and index the folder, in ms. */
  readonly loadMs: number;
}

/** One search result: a section, ranked by BM25 score (higher is better, unbounded). */
export interface SearchHit {
  /** Section id, `doc#heading-slug` (e.g. `fs#file-system-flags`); pass to {@link Corpus.read}. */
  readonly id: string;
  /** Document id: the file name without `.md` (e.g. `fs`). */
  readonly doc: string;
  /** Document title (its first `#` heading, else the file name). */
  readonly title: string;
  /** The section's heading text, Markdown backticks removed. */
  readonly heading: string;
  readonly score: number;
  /** At most 300 characters of the section body around the first matched term. */
  readonly snippet: string;
}

/** Result of {@link Corpus.search}: `total` counts all matching sections, `hits` the best `limit`. */
export interface SearchResults {
  readonly total: number;
  readonly hits: SearchHit[];
}

/** Result of {@link Corpus.read}: raw Markdown of a whole document or of one section. */
export interface ReadResult {
  readonly id: string;
  readonly doc: string;
  readonly title: string;
  /** The section's heading; `null` when `id` named a whole document. */
  readonly heading: string | null;
  /** Markdown, cut to at most `maxBytes` UTF-8 bytes when `truncated` (cut marked at the end). */
  readonly text: string;
  /** UTF-8 size of the whole document or section before any cut, in bytes. */
  readonly bytes: number;
  readonly truncated: boolean;
}

interface Section {
  readonly id: string;
  readonly doc: string;
  readonly title: string;
  readonly heading: string;
  /** Raw Markdown from the heading line up to the next section. */
  readonly text: string;
  /** Body without heading, comments and link targets, whitespace collapsed: indexed and snippeted. */
  readonly plain: string;
}

interface Doc {
  readonly id: string;
  readonly title: string;
  readonly text: string;
}

const SNIPPET_CHARS = 300;
/** Smallest `maxBytes` accepted by {@link Corpus.read}: the cut marker must fit. */
export const MIN_READ_BYTES = 128;

// Words that match nearly every section; dropping them keeps natural-language queries
// ("how to read a file line by line") ranked by the words that matter.
const STOP_WORDS = new Set(
  "a an and are as at be by can do does for from how i in is it of on or that the this to what when which with".split(" "),
);

// Index time: also index the parts of camelCase identifiers, so "create interface" finds
// `createInterface` while the whole identifier still matches exactly.
function indexTerm(term: string): string[] | null {
  const lower = term.toLowerCase();
  if (STOP_WORDS.has(lower)) return null;
  const parts = term.split(/(?<=[a-z0-9])(?=[A-Z])/).map((p) => p.toLowerCase());
  return parts.length > 1 ? [lower, ...parts.filter((p) => !STOP_WORDS.has(p))] : [lower];
}

function queryTerm(term: string): string | null {
  const lower = term.toLowerCase();
  return STOP_WORDS.has(lower) ? null : lower;
}

/**
 * An in-memory, read-only full-text index of a folder of Markdown files, split into sections
 * at headings. Build it with {@link loadCorpus}; it is immutable and safe to share.
 */
export class Corpus {
  /** Counts, size and load time measured by {@link loadCorpus}. */
  readonly stats: CorpusStats;
  readonly #index: MiniSearch<Section>;
  readonly #sections: Map<string, Section>;
  readonly #docs: Map<string, Doc>;

  /** Use {@link loadCorpus}; the parts come from its splitting and indexing. */
  constructor(index: MiniSearch<Section>, docs: Map<string, Doc>, sections: Map<string, Section>, stats: CorpusStats) {
    this.#index = index;
    this.#docs = docs;
    this.#sections = sections;
    this.stats = stats;
  }

  /**
   * BM25 search over section headings, document titles and bodies (prefix and fuzzy matching,
   * any term may match). `limit` caps `hits` (values below 1 count as 1); a query of only stop
   * words or punctuation finds nothing. Takes well under 50 ms on the Node.js docs. Never throws.
   */
  search(query: string, limit: number): SearchResults {
    const results = this.#index.search(query, {
      boost: { heading: 3, titleTerms: 2, text: 1 },
      prefix: (term) => term.length >= 3,
      // Edit distance 1 for 5–9 letters, 2 from 10: tolerates typos without drowning exact hits.
      fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
      combineWith: "OR",
      processTerm: queryTerm,
    });
    const hits = results.slice(0, Math.max(1, limit)).map((r) => this.#hit(r));
    return { total: results.length, hits };
  }

  /**
   * The raw Markdown of a document (`fs`) or a section (`fs#file-system-flags`), cut to at most
   * `maxBytes` UTF-8 bytes (default 8192). Returns `undefined` for an unknown id.
   * @throws RangeError when `maxBytes` < {@link MIN_READ_BYTES}.
   */
  read(id: string, maxBytes = 8192): ReadResult | undefined {
    if (!(maxBytes >= MIN_READ_BYTES)) throw new RangeError(`maxBytes must be at least ${MIN_READ_BYTES}`);
    const key = id.trim();
    const section = this.#sections.get(key);
    const doc = section ? undefined : this.#docs.get(key);
    const found = section ?? doc;
    if (!found) return undefined;
    const cut = truncateUtf8(found.text, maxBytes);
    return {
      id: found.id,
      doc: section ? section.doc : found.id,
      title: found.title,
      heading: section ? section.heading : null,
      ...cut,
    };
  }

  #hit(r: SearchResult): SearchHit {
    const s = this.#sections.get(r.id as string);
    if (!s) throw new Error(`index and section table disagree on ${String(r.id)}`);
    return {
      id: s.id,
      doc: s.doc,
      title: s.title,
      heading: s.heading,
      score: Math.round(r.score * 1000) / 1000,
      snippet: snippet(s.plain, r.terms),
    };
  }
}

/**
 * Reads every `*.md` file directly inside `dir` (not recursive), splits each into sections at
 * headings up to `maxHeadingDepth` (ignoring `#` lines inside code fences) and indexes them.
 * Document ids are file names without `.md`; section ids are `doc#slug` (slugs deduplicated
 * within a document with `-1`, `-2`, …). Text before the first heading becomes `doc#preamble`.
 * Takes about a second for the Node.js docs; load once and share the result.
 * @throws Error when `dir` cannot be read or holds no `.md` files.
 * @throws RangeError when `maxHeadingDepth` is not an integer 1–6.
 */
export async function loadCorpus(dir: string, options: CorpusOptions = {}): Promise<Corpus> {
  const started = performance.now();
  const depth = options.maxHeadingDepth ?? 3;
  if (!Number.isInteger(depth) || depth < 1 || depth > 6) throw new RangeError("maxHeadingDepth must be 1–6");
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".md")).sort();
  } catch (error) {
    throw new Error(`cannot read corpus folder ${dir}: ${(error as Error).message}`, { cause: error });
  }
  if (names.length === 0) throw new Error(`corpus folder ${dir} holds no .md files`);
  const texts = await Promise.all(names.map((n) => readFile(join(dir, n), "utf8")));

  const docs = new Map<string, Doc>();
  const sections = new Map<string, Section>();
  let bytes = 0;
  names.forEach((name, i) => {
    const text = texts[i] ?? "";
    bytes += Buffer.byteLength(text);
    const split = splitDocument(basename(name, ".md"), text, depth);
    docs.set(split.doc.id, split.doc);
    for (const s of split.sections) sections.set(s.id, s);
  });

  const index = new MiniSearch<Section>({
    fields: ["heading", "titleTerms", "text"],
    storeFields: ["doc", "title", "heading"],
    // Index the cleaned body, and the doc id along with the title (`child_process` → child, process).
    extractField: (s, field) =>
      field === "text" ? s.plain : field === "titleTerms" ? `${s.title} ${s.doc}` : String(s[field as keyof Section]),
    processTerm: indexTerm,
  });
  index.addAll([...sections.values()]);

  const stats = { dir, docs: docs.size, sections: sections.size, bytes, loadMs: Math.round(performance.now() - started) };
  return new Corpus(index, docs, sections, stats);
}

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

function splitDocument(id: string, text: string, depth: number): { doc: Doc; sections: Section[] } {
  const lines = text.split("\n");
  const title = lines.map((l) => HEADING.exec(l)).find((m) => m?.[1] === "#")?.[2] ?? id;
  const docTitle = cleanHeading(title) || id;
  const slugs = new Set<string>();
  const sections: Section[] = [];
  let heading: string | null = null;
  let start = 0;
  let fence: string | null = null;

  const close = (end: number) => {
    const body = lines.slice(start, end).join("\n");
    if (heading === null && body.trim() === "") return;
    const slug = uniqueSlug(heading === null ? "preamble" : slugify(heading), slugs);
    const bodyOnly = heading === null ? body : lines.slice(start + 1, end).join("\n");
    sections.push({
      id: `${id}#${slug}`,
      doc: id,
      title: docTitle,
      heading: heading ?? docTitle,
      text: body,
      plain: plainText(bodyOnly),
    });
  };

  lines.forEach((line, i) => {
    const f = FENCE.exec(line);
    if (f?.[1]) {
      // A fence closes only with the same character, at least as long (CommonMark).
      if (fence === null) fence = f[1];
      else if (f[1][0] === fence[0] && f[1].length >= fence.length) fence = null;
      return;
    }
    if (fence !== null) return;
    const m = HEADING.exec(line);
    if (!m?.[1] || m[1].length > depth) return;
    close(i);
    heading = cleanHeading(m[2] ?? "");
    start = i;
  });
  close(lines.length);
  return { doc: { id, title: docTitle, text }, sections };
}

function cleanHeading(raw: string): string {
  return raw
    .replace(/<[^>]+>/g, "")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[`*]/g, "")
    .replace(/\\(.)/g, "$1")
    .trim();
}

function slugify(heading: string): string {
  return (
    heading
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, "-")
      .replace(/^-+|-+$/g, "") || "section"
  );
}

function uniqueSlug(slug: string, used: Set<string>): string {
  let candidate = slug;
  for (let n = 1; used.has(candidate); n++) candidate = `${slug}-${n}`;
  used.add(candidate);
  return candidate;
}

// Node's docs carry YAML history in HTML comments and link reference definitions at the end:
// noise for ranking and snippets, so they are left out of the index (but kept by `read`).
function plainText(markdown: string): string {
  return markdown
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/^\s*\[[^\]]+\]:\s+\S+.*$/gm, " ")
    .replace(/\]\([^)]*\)/g, "]")
    .replace(/\s+/g, " ")
    .trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** ≤ 300 chars of `plain` starting a little before the first matched term (whole words kept). */
function snippet(plain: string, terms: string[]): string {
  if (plain.length <= SNIPPET_CHARS) return plain;
  const pattern = terms.length ? new RegExp(terms.map(escapeRegExp).join("|"), "iu") : null;
  const at = pattern?.exec(plain)?.index ?? 0;
  let start = Math.max(0, at - 80);
  if (start > 0) start = plain.indexOf(" ", start) + 1 || start;
  const lead = start > 0 ? "…" : "";
  let end = Math.min(plain.length, start + SNIPPET_CHARS - lead.length);
  if (end < plain.length) {
    end -= 1; // room for the trailing ellipsis
    const space = plain.lastIndexOf(" ", end);
    if (space > start + SNIPPET_CHARS / 2) end = space;
  }
  // Never split a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(plain.charAt(end - 1))) end -= 1;
  return `${lead}${plain.slice(start, end).trimEnd()}${end < plain.length ? "…" : ""}`;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes including a trailing marker: at the last
 * line break when one falls in the second half of the budget, else at a character boundary.
 */
function truncateUtf8(text: string, maxBytes: number): { text: string; bytes: number; truncated: boolean } {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return { text, bytes: buf.length, truncated: false };
  const marker = `\n[… truncated: ${buf.length} bytes in full; ask again with a larger maxBytes or a section id]`;
  let end = maxBytes - Buffer.byteLength(marker);
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is split.
  while (end > 0 && ((buf[end] ?? 0) & 0xc0) === 0x80) end--;
  let kept = buf.subarray(0, end).toString("utf8");
  const newline = kept.lastIndexOf("\n");
  if (newline > kept.length / 2) kept = kept.slice(0, newline);
  return { text: kept + marker, bytes: buf.length, truncated: true };
}
