import { envPositiveInt } from "@baton/core";
import { z } from "zod";
import { MAX_SCRIPT_TIMEOUT_MS } from "./tools/sandbox-limits.ts";

/**
 * The code agent's own environment (read together with the worker settings).
 * - `SANDBOX_MEMORY_LIMIT_BYTES`: QuickJS heap limit per script; default 67,108,864 (64 MiB).
 * - `SANDBOX_MAX_STACK_BYTES`: QuickJS stack limit; default and maximum 262,144 (256 KiB) —
 *   larger limits let deep recursion crash the host process.
 * - `SANDBOX_TIMEOUT_MS`: default wall-clock limit per script; default 2,000 ms, at most 5,000 (the most a
 *   `run_javascript` call may ask for, so that one step's calls stay bounded; see the agent's README).
 * - `SANDBOX_THREADS`: sandbox threads, i.e. scripts run at once (1..256); default `WORKER_CONCURRENCY`, one per
 *   step slot, so a step never waits for a thread another step holds.
 * - `EXPRESSION_PROCESSES`: most mathjs evaluator processes (1..256; one kept, the others started on demand and
 *   stopped after 60 s idle, ~120 MB each); default `WORKER_CONCURRENCY`.
 */
export const CodeAgentEnv = z.object({
  SANDBOX_MEMORY_LIMIT_BYTES: envPositiveInt.default(64 * 1024 * 1024),
  SANDBOX_MAX_STACK_BYTES: envPositiveInt.max(262_144, "must be at most 262144 (256 KiB)").default(262_144),
  SANDBOX_TIMEOUT_MS: envPositiveInt.max(MAX_SCRIPT_TIMEOUT_MS, `must be at most ${MAX_SCRIPT_TIMEOUT_MS}`).default(2_000),
  SANDBOX_THREADS: envPositiveInt.max(256).optional(),
  EXPRESSION_PROCESSES: envPositiveInt.max(256).optional(),
});
export type CodeAgentEnv = z.infer<typeof CodeAgentEnv>;
