/** @baton/research-agent — the research worker: full-text search over a document corpus. */
import type { ServiceContext } from "@baton/core";
import { runWorkerService } from "@baton/worker";
import type { ResearchAgentEnv } from "./config.ts";
import { createResearchTools } from "./tools/index.ts";

export { ResearchAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/** Loads the corpus (CORPUS_DIR) and runs the research worker. @throws when the corpus has no .md files. */
export async function runResearchAgent(env: ResearchAgentEnv): Promise<ServiceContext> {
  const tools = await createResearchTools({ corpusDir: env.CORPUS_DIR });
  return runWorkerService({ agent: "research", env, tools });
}
