/**
 * A bench-only worker: the real worker runtime (`runWorkerService`) as agent "code", with a
 * single tool `sleep_ms` that waits the given time. The scaling and recovery scenarios start it
 * instead of the real code agent, so a step takes a known time without using CPU.
 */
import { setTimeout as delay } from "node:timers/promises";
import { loadConfig, runMain } from "@baton/core";
import { defineTool, ToolError } from "@baton/tools";
import { runWorkerService, WorkerEnv } from "@baton/worker";
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

runMain(() => runWorkerService({ agent: "code", env: loadConfig(WorkerEnv), tools: [sleepMs] }));
