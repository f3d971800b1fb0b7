import { loadConfig, runMain } from "@baton/core";
import { DataAgentEnv, runDataAgent } from "./index.ts";

runMain(() => runDataAgent(loadConfig(DataAgentEnv)));
