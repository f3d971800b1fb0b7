/** The research agent's tools: search and read a Markdown corpus (default: the Node.js API docs). */
import type { Tool } from "@baton/tools";
import { type CorpusOptions, type CorpusStats, loadCorpus } from "./corpus.ts";
import { readDocumentTool } from "./read-document.ts";
import { searchDocumentsTool } from "./search-documents.ts";

export {
  Corpus,
  type CorpusOptions,
  type CorpusStats,
  DEFAULT_CORPUS_DIR,
  loadCorpus,
  MIN_READ_BYTES,
  type ReadResult,
  type SearchHit,
  type SearchResults,
} from "./corpus.ts";
export { type ReadDocumentOutput, ReadDocumentInput, readDocumentTool } from "./read-document.ts";
export { SearchDocumentsInput, type SearchDocumentsOutput, searchDocumentsTool } from "./search-documents.ts";

/** Options of {@link createResearchTools}. */
export interface ResearchToolsOptions extends CorpusOptions {
  /** Folder of `*.md` files to search, e.g. {@link DEFAULT_CORPUS_DIR}. */
  readonly corpusDir: string;
  /** Called once loaded, with the document/section counts and the load time in ms (for logs). */
  readonly onLoad?: (stats: CorpusStats) => void;
}

/**
 * Loads the corpus once (≈0.5 s and 3.3k sections for the Node.js docs) and returns the tools
 * sharing it: `[search_documents, read_document]`. Cache the result; every call reloads.
 * @throws Error when `corpusDir` cannot be read or holds no `.md` files.
 */
export async function createResearchTools(options: ResearchToolsOptions): Promise<Tool[]> {
  const corpus = await loadCorpus(options.corpusDir, options);
  options.onLoad?.(corpus.stats);
  return [searchDocumentsTool(corpus), readDocumentTool(corpus)];
}
