import { runAgent } from "@baton/agent";
import { codeAgent } from "./index.ts";

await runAgent(codeAgent);
