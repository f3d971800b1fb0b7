/** @baton/code-agent — the code worker: untrusted JavaScript in QuickJS, and math with mathjs. */
import { defineAgent } from "@baton/agent";
import pkg from "../package.json" with { type: "json" };
import { CodeAgentEnv } from "./config.ts";
import { createCodeToolSet } from "./tools/index.ts";

export { CodeAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/**
 * The `code` agent: starts its sandbox threads (QuickJS, `SANDBOX_THREADS`, default one per `WORKER_CONCURRENCY`
 * slot) and its mathjs evaluator processes (`EXPRESSION_PROCESSES`, same default) once per replica, and stops
 * them on shutdown. Tools never run on the agent's event loop, so heartbeats and cancellations go on.
 */
export const codeAgent = defineAgent({
  name: "code",
  version: pkg.version,
  description:
    "Computes. Runs JavaScript in a QuickJS sandbox (no I/O; the outputs of the steps it depends on arrive as `inputs`) " +
    "and evaluates math expressions with units (mathjs). Use it for arithmetic, statistics, unit conversions and " +
    "reshaping data produced by earlier steps; it cannot read files, query databases or reach the network.",
  env: CodeAgentEnv,
  tools: (env) =>
    createCodeToolSet({
      memoryLimitBytes: env.SANDBOX_MEMORY_LIMIT_BYTES,
      maxStackBytes: env.SANDBOX_MAX_STACK_BYTES,
      defaultTimeoutMs: env.SANDBOX_TIMEOUT_MS,
      sandboxThreads: env.SANDBOX_THREADS ?? env.WORKER_CONCURRENCY,
      expressionProcesses: env.EXPRESSION_PROCESSES ?? env.WORKER_CONCURRENCY,
    }),
});
