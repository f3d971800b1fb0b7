import { loadConfig, runMain } from "@baton/core";
import { CodeAgentEnv, runCodeAgent } from "./index.ts";

runMain(() => runCodeAgent(loadConfig(CodeAgentEnv)));
