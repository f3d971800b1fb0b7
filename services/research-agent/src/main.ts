import { loadConfig, runMain } from "@baton/core";
import { ResearchAgentEnv, runResearchAgent } from "./index.ts";

runMain(() => runResearchAgent(loadConfig(ResearchAgentEnv)));
