import { runAgent } from "@baton/agent";
import { ticketsAgent } from "./index.ts";

await runAgent(ticketsAgent);
