/**
 * A bench-only agent, `sleep` (durable `sleep-agent`), built with the agent SDK, with a single
 * tool `sleep_ms` that waits the given time. The scaling and recovery scenarios use it, so a step
 * takes a known time without using CPU.
 */
import { setTimeout as delay } from "node:timers/promises";
import { defineAgent, defineTool, runAgent, ToolError } from "@baton/agent";
import { z } from "zod";

const sleepMs = defineTool({
  name: "sleep_ms",
  description: "Waits `ms` milliseconds, then returns. Bench only.",
  input: z.object({ ms: z.number().int().min(0).max(60_000) }),
  timeoutMs: 65_000,
  riskTier: "compute",
  idempotent: true,
  async execute({ ms }, ctx) {
    try {
      await delay(ms, undefined, { signal: ctx.signal });
    } catch (error) {
      throw new ToolError("TOOL_TIMEOUT", "sleep cancelled", { cause: error });
    }
    return { sleptMs: ms };
  },
});

await runAgent(defineAgent({ name: "sleep", version: "1.0.0", description: "Bench only: sleeps for a given time.", tools: [sleepMs] }));
