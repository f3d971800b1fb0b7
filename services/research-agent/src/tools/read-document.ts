import { defineTool, type Tool, ToolError } from "@baton/tools";
import { z } from "zod";
import type { Corpus, ReadResult } from "./corpus.ts";

/** Input of `read_document`: a doc or section id; `maxBytes` 256–65536, default 8192. */
export const ReadDocumentInput = z.strictObject({
  id: z.string().trim().min(1).max(300).describe("A section id ('fs#file-system-flags') or document id ('fs') from search_documents."),
  maxBytes: z
    .number()
    .int()
    .min(256)
    .max(65536)
    .default(8192)
    .describe("Most UTF-8 bytes of text to return (256–65536); longer text is cut and marked."),
});

/** Output of `read_document`: see {@link ReadResult} (`bytes` is the uncut size). */
export type ReadDocumentOutput = ReadResult;

/**
 * The `read_document` tool over `corpus` (risk tier `read`, idempotent, 5000 ms timeout).
 * @throws ToolError `TOOL_FAILED` (not retryable) for an id that names no document or section.
 */
export function readDocumentTool(corpus: Corpus): Tool<typeof ReadDocumentInput, ReadDocumentOutput> {
  return defineTool({
    name: "read_document",
    description:
      "Returns the Markdown text of one section (id 'doc#heading-slug', e.g. 'fs#file-system-flags') " +
      "or of a whole document (id 'doc', e.g. 'fs') found with search_documents. Prefer section ids: " +
      "whole documents are long and get cut. Text longer than maxBytes is cut at a line break and " +
      "ends with a '[… truncated …]' marker; 'bytes' is the full size and 'truncated' says whether " +
      "it was cut. Quote only what the returned text says.",
    input: ReadDocumentInput,
    timeoutMs: 5000,
    riskTier: "read",
    display: { format: "text", path: "/text" },
    idempotent: true,
    async execute({ id, maxBytes }) {
      const result = corpus.read(id, maxBytes);
      if (!result) {
        throw new ToolError("TOOL_FAILED", `no document or section with id ${JSON.stringify(id)}; use search_documents to find ids`);
      }
      return result;
    },
  });
}
