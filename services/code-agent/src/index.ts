/** @baton/code-agent — the code worker: untrusted JavaScript in QuickJS, and math with mathjs. */
import type { ServiceContext } from "@baton/core";
import { runWorkerService } from "@baton/worker";
import type { CodeAgentEnv } from "./config.ts";
import { createCodeTools } from "./tools/index.ts";

export { CodeAgentEnv } from "./config.ts";
export * from "./tools/index.ts";

/** Loads the QuickJS WebAssembly module and runs the code worker. */
export async function runCodeAgent(env: CodeAgentEnv): Promise<ServiceContext> {
  const tools = await createCodeTools({
    memoryLimitBytes: env.SANDBOX_MEMORY_LIMIT_BYTES,
    maxStackBytes: env.SANDBOX_MAX_STACK_BYTES,
    defaultTimeoutMs: env.SANDBOX_TIMEOUT_MS,
  });
  return runWorkerService({ agent: "code", env, tools });
}
