/** @baton/research-agent — the research worker: full-text search over a document corpus. */
import { defineAgent } from "@baton/agent";
import pkg from "../package.json" with { type: "json" };
import { ResearchAgentEnv } from "./config.ts";
import { createResearchTools } from "./tools/index.ts";

export { ResearchAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/** The `research` agent: loads the corpus (CORPUS_DIR) once per replica. */
export const researchAgent = defineAgent({
  name: "research",
  version: pkg.version,
  description:
    "Searches and reads a documentation corpus (by default the Node.js API documentation): BM25 full-text search over " +
    "sections, then the full text of the best sections. Use it for how-to and API questions the documents answer, " +
    "and to quote them; it knows nothing outside the corpus.",
  env: ResearchAgentEnv,
  tools: (env, { logger }) =>
    createResearchTools({ corpusDir: env.CORPUS_DIR, onLoad: (stats) => logger.info({ corpus: stats }, "corpus loaded") }),
});
