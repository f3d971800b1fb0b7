import { defineTool, type Tool } from "@baton/tools";
import { z } from "zod";
import type { Corpus, SearchHit } from "./corpus.ts";

/** Input of `search_documents`: `query` 1–500 chars; `limit` 1–20 hits, default 5. */
export const SearchDocumentsInput = z.strictObject({
  query: z.string().trim().min(1).max(500).describe("Keywords or a short question, e.g. 'readline createInterface'."),
  limit: z.number().int().min(1).max(20).default(5).describe("Most hits to return (1–20)."),
});

/** Output of `search_documents`: `total` matching sections, best `hits` first. */
export interface SearchDocumentsOutput {
  readonly query: string;
  readonly total: number;
  readonly hits: SearchHit[];
}

/**
 * The `search_documents` tool over `corpus` (risk tier `read`, idempotent, 5000 ms timeout).
 * Never throws for a query that matches nothing: it returns `total: 0, hits: []`.
 */
export function searchDocumentsTool(corpus: Corpus): Tool<typeof SearchDocumentsInput, SearchDocumentsOutput> {
  return defineTool({
    name: "search_documents",
    description:
      "Full-text search (BM25, typo- and prefix-tolerant) over the reference documents, split into " +
      "sections at headings (the default corpus is the Node.js API documentation). Use API names " +
      "and keywords rather than long sentences. Returns ranked hits with a section id " +
      "(like 'fs#file-system-flags'), its document and heading, a score (higher is better) and a " +
      "snippet of at most 300 characters. Snippets are not enough to answer from: pass the best " +
      "hit ids to read_document to get the full text before citing it.",
    input: SearchDocumentsInput,
    timeoutMs: 5000,
    riskTier: "read",
    display: { format: "table", path: "/hits" },
    idempotent: true,
    async execute({ query, limit }) {
      const { total, hits } = corpus.search(query, limit);
      return { query, total, hits };
    },
  });
}
