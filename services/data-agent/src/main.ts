import { runAgent } from "@baton/agent";
import { dataAgent } from "./index.ts";

await runAgent(dataAgent);
