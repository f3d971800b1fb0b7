/** @baton/code-agent — the code worker: untrusted JavaScript in QuickJS, and math with mathjs. */
import { defineAgent } from "@baton/agent";
import pkg from "../package.json" with { type: "json" };
import { CodeAgentEnv } from "./config.ts";
import { createCodeTools } from "./tools/index.ts";

export { CodeAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/** The `code` agent: loads the QuickJS WebAssembly module and starts the mathjs evaluator once per replica. */
export const codeAgent = defineAgent({
  name: "code",
  version: pkg.version,
  description:
    "Computes. Runs JavaScript in a QuickJS sandbox (no I/O; the outputs of the steps it depends on arrive as `inputs`) " +
    "and evaluates math expressions with units (mathjs). Use it for arithmetic, statistics, unit conversions and " +
    "reshaping data produced by earlier steps; it cannot read files, query databases or reach the network.",
  env: CodeAgentEnv,
  tools: (env) =>
    createCodeTools({
      memoryLimitBytes: env.SANDBOX_MEMORY_LIMIT_BYTES,
      maxStackBytes: env.SANDBOX_MAX_STACK_BYTES,
      defaultTimeoutMs: env.SANDBOX_TIMEOUT_MS,
    }),
});
