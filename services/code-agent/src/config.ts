import { envPositiveInt } from "@baton/core";
import { z } from "zod";

/**
 * The code agent's own environment (read together with the worker settings).
 * - `SANDBOX_MEMORY_LIMIT_BYTES`: QuickJS heap limit per script; default 67,108,864 (64 MiB).
 * - `SANDBOX_MAX_STACK_BYTES`: QuickJS stack limit; default and maximum 262,144 (256 KiB) —
 *   larger limits let deep recursion crash the host process.
 * - `SANDBOX_TIMEOUT_MS`: default wall-clock limit per script; default 2,000 ms.
 */
export const CodeAgentEnv = z.object({
  SANDBOX_MEMORY_LIMIT_BYTES: envPositiveInt.default(64 * 1024 * 1024),
  SANDBOX_MAX_STACK_BYTES: envPositiveInt.max(262_144, "must be at most 262144 (256 KiB)").default(262_144),
  SANDBOX_TIMEOUT_MS: envPositiveInt.max(10_000).default(2_000),
});
export type CodeAgentEnv = z.infer<typeof CodeAgentEnv>;
