import { z } from "zod";
import { DEFAULT_CORPUS_DIR } from "./tools/index.ts";

/**
 * The research agent's own environment (read together with the worker settings).
 * - `CORPUS_DIR`: folder of Markdown documents to search; default `/usr/share/doc/nodejs/api`
 *   (the Node.js API docs shipped by Debian's nodejs package).
 */
export const ResearchAgentEnv = z.object({
  CORPUS_DIR: z.string().min(1).default(DEFAULT_CORPUS_DIR),
});
export type ResearchAgentEnv = z.infer<typeof ResearchAgentEnv>;
