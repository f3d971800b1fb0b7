import { runAgent } from "@baton/agent";
import { geoAgent } from "./agent.ts";

await runAgent(geoAgent);
