import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ToolCallResult } from "@baton/contracts";
import { executeToolCall, type ToolContext, ToolRegistry } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Corpus,
  type CorpusStats,
  createResearchTools,
  DEFAULT_CORPUS_DIR,
  loadCorpus,
  type ReadDocumentOutput,
  type SearchDocumentsOutput,
} from "../../services/research-agent/src/tools/index.ts";

const ctx: ToolContext = { signal: new AbortController().signal, taskId: "t", stepId: "s", inputs: {} };

function call(registry: ToolRegistry, tool: string, args: Record<string, unknown>): Promise<ToolCallResult> {
  return executeToolCall(registry, { tool, args }, ctx);
}

async function output<T>(result: Promise<ToolCallResult>): Promise<T> {
  const r = await result;
  if (!r.ok) throw new Error(`tool call failed: ${r.error.code} ${r.error.message}`);
  return r.output as T;
}

// Multi-byte text (2-, 3- and 4-byte UTF-8) so byte cuts can land inside a character.
const UNICODE_LINE = "Grüße aus 日本 🦀 — naïve café\n";

const ALPHA = `# Alpha guide

Intro text about widgets.

## Install

Run the installer.

\`\`\`sh
# not a heading: inside a code fence
\`\`\`

## Configure \`frobnicate(options)\`

The frobnicate call configures every widget.

### Options

Options control the widget.

#### Deep heading stays inside its section

Deep text.

## Install

Second install section with a duplicate heading.
`;

describe("research tools on a small temp corpus", () => {
  let dir: string;
  let corpus: Corpus;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-corpus-"));
    await writeFile(join(dir, "alpha.md"), ALPHA);
    await writeFile(join(dir, "unicode.md"), `No heading first.\n\n${UNICODE_LINE.repeat(40)}`);
    await writeFile(join(dir, "ignored.txt"), "# frobnicate\n");
    corpus = await loadCorpus(dir);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("splits at #, ## and ### headings with stable, deduplicated ids", () => {
    expect(corpus.stats).toMatchObject({ docs: 2, sections: 6 });
    for (const id of [
      "alpha#alpha-guide",
      "alpha#install",
      "alpha#configure-frobnicate-options",
      "alpha#options",
      "alpha#install-1",
      "unicode#preamble",
    ]) {
      expect(corpus.read(id), id).toBeDefined();
    }
    const options = corpus.read("alpha#options");
    expect(options?.heading).toBe("Options");
    expect(options?.title).toBe("Alpha guide");
    expect(options?.text).toContain("#### Deep heading stays inside");
    expect(corpus.read("alpha#install")?.text).toContain("# not a heading");
  });

  it("ranks the section whose heading matches first and keeps snippets ≤ 300 chars", () => {
    const { total, hits } = corpus.search("frobnicate", 5);
    expect(total).toBeGreaterThan(0);
    expect(hits[0]?.id).toBe("alpha#configure-frobnicate-options");
    expect(hits[0]?.snippet).toContain("frobnicate");
    for (const hit of corpus.search("widget", 10).hits) expect(hit.snippet.length).toBeLessThanOrEqual(300);
  });

  it("cuts at maxBytes without splitting UTF-8 characters and marks the cut", () => {
    const r = corpus.read("unicode", 256);
    expect(r?.truncated).toBe(true);
    expect(Buffer.byteLength(r?.text ?? "")).toBeLessThanOrEqual(256);
    expect(r?.text).not.toContain("\uFFFD");
    expect(r?.text).toMatch(/\n\[… truncated: \d+ bytes in full/);
    expect(r?.bytes).toBeGreaterThan(256);
    // Cut at a line break: the kept text ends with a whole line before the marker.
    expect(r?.text.split("\n[…")[0]?.endsWith("café")).toBe(true);
  });

  it("refuses a folder without .md files and a missing folder", async () => {
    const empty = join(dir, "empty");
    await mkdir(empty);
    await expect(loadCorpus(empty)).rejects.toThrow(/holds no \.md files/);
    await expect(loadCorpus(join(dir, "missing"))).rejects.toThrow(/cannot read corpus folder/);
  });
});

describe.skipIf(!existsSync(DEFAULT_CORPUS_DIR))("research tools on the Node.js docs", () => {
  let registry: ToolRegistry;
  let stats: CorpusStats | undefined;

  beforeAll(async () => {
    registry = new ToolRegistry(await createResearchTools({ corpusDir: DEFAULT_CORPUS_DIR, onLoad: (s) => (stats = s) }));
  });

  it("loads every document into thousands of sections", () => {
    expect(registry.names()).toEqual(["search_documents", "read_document"]);
    expect(stats?.docs).toBeGreaterThan(50);
    expect(stats?.sections).toBeGreaterThan(1000);
  });

  it("finds readline's createInterface first", async () => {
    const out = await output<SearchDocumentsOutput>(call(registry, "search_documents", { query: "readline createInterface" }));
    expect(out.query).toBe("readline createInterface");
    expect(out.hits).toHaveLength(5); // default limit
    expect(out.hits[0]?.doc).toBe("readline");
    expect(out.hits[0]?.heading).toMatch(/createInterface/);
    expect(out.hits[0]?.id).toMatch(/^readline#.*createinterface/);
  });

  it("finds a section by its heading words", async () => {
    const out = await output<SearchDocumentsOutput>(call(registry, "search_documents", { query: "file system flags", limit: 1 }));
    expect(out.hits.map((h) => h.id)).toEqual(["fs#file-system-flags"]);
  });

  it("respects limit and reports the total", async () => {
    const out = await output<SearchDocumentsOutput>(call(registry, "search_documents", { query: "stream", limit: 3 }));
    expect(out.hits).toHaveLength(3);
    expect(out.total).toBeGreaterThan(3);
    const scores = out.hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it("reads a whole document by doc id, cut at the default 8192 bytes", async () => {
    const out = await output<ReadDocumentOutput>(call(registry, "read_document", { id: "readline" }));
    expect(out).toMatchObject({ id: "readline", doc: "readline", title: "Readline", heading: null, truncated: true });
    expect(out.text.startsWith("# Readline")).toBe(true);
    expect(Buffer.byteLength(out.text)).toBeLessThanOrEqual(8192);
    expect(out.bytes).toBeGreaterThan(8192);
  });

  it("reads a section by the id search returned", async () => {
    const search = await output<SearchDocumentsOutput>(call(registry, "search_documents", { query: "readline createInterface", limit: 1 }));
    const id = search.hits[0]?.id ?? "";
    const out = await output<ReadDocumentOutput>(call(registry, "read_document", { id, maxBytes: 65536 }));
    expect(out.id).toBe(id);
    expect(out.doc).toBe("readline");
    expect(out.truncated).toBe(false);
    expect(out.bytes).toBe(Buffer.byteLength(out.text));
    expect(out.text).toContain("createInterface");
  });

  it("marks truncation at maxBytes", async () => {
    const out = await output<ReadDocumentOutput>(call(registry, "read_document", { id: "fs", maxBytes: 256 }));
    expect(out.truncated).toBe(true);
    expect(Buffer.byteLength(out.text)).toBeLessThanOrEqual(256);
    expect(out.text).toContain("[… truncated:");
  });

  it("reports an unknown id as a structured TOOL_FAILED error", async () => {
    const r = await call(registry, "read_document", { id: "nope#missing" });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe("TOOL_FAILED");
    expect(r.error.retryable).toBe(false);
    expect(r.error.message).toMatch(/no document or section with id "nope#missing".*search_documents/);
  });

  it.each([
    ["search_documents", { query: "" }],
    ["search_documents", { query: "   " }],
    ["search_documents", { query: "fs", limit: 0 }],
    ["search_documents", { query: "fs", limit: 21 }],
    ["search_documents", { query: "x".repeat(501) }],
    ["read_document", { id: "fs", maxBytes: 100 }],
    ["read_document", { id: "" }],
  ])("rejects %s %j as INVALID_ARGUMENTS", async (tool, args) => {
    const r = await call(registry, tool, args);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe("INVALID_ARGUMENTS");
  });

  it("describes both tools with JSON Schemas carrying the defaults", () => {
    const [search, read] = registry.describe();
    expect(search?.inputSchema).toMatchObject({ properties: { limit: { default: 5 } }, required: ["query"] });
    expect(read?.inputSchema).toMatchObject({ properties: { maxBytes: { default: 8192 } }, required: ["id"] });
  });
});
