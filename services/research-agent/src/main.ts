import { runAgent } from "@baton/agent";
import { researchAgent } from "./index.ts";

await runAgent(researchAgent);
