/**
 * @baton/agent — the SDK for Baton agents: define tools and an agent type, and run replicas of it
 * that join a running Baton over NATS JetStream. The built-in agents use it too.
 *
 * ```ts
 * import { defineAgent, defineTool, runAgent } from "@baton/agent";
 * import { z } from "zod";
 *
 * const add = defineTool({
 *   name: "add",
 *   description: "Adds two numbers.",
 *   input: z.object({ a: z.number(), b: z.number() }),
 *   riskTier: "compute",
 *   idempotent: true,
 *   async execute({ a, b }) { return { sum: a + b }; },
 * });
 * await runAgent(defineAgent({ name: "calc", version: "1.0.0", description: "Adds numbers.", tools: [add] }));
 * ```
 */
export {
  type AgentDefinition,
  type AgentEnv,
  type AgentSetupContext,
  type AgentToolEntry,
  type AgentTools,
  defineAgent,
} from "./define-agent.ts";
export { type RunAgentOptions, type RunningAgent, runAgent } from "./run-agent.ts";
export { WorkerEnv } from "./config.ts";
export {
  type ArgsCheck,
  DEFAULT_TOOL_TIMEOUT_MS,
  defineJsonSchemaTool,
  defineTool,
  executeToolCall,
  type ExecuteOptions,
  type JsonSchemaToolDefinition,
  type RiskTier,
  type Tool,
  type ToolCompensation,
  type ToolContext,
  type ToolDefinition,
  type ToolDisplay,
  ToolError,
  type ToolErrorCode,
  isToolProvider,
  type ToolProvider,
  ToolRegistry,
} from "@baton/tools";
export type { AgentCard, AgentReplica, StepResult, StepWork, ToolCallResult, ToolCard } from "@baton/contracts";
export type { Logger } from "@baton/core";
export { runStepToolCalls, type StepRun } from "./run-step.ts";
export { runWorkerService, stepLimitMs, type WorkerServiceOptions } from "./worker-service.ts";
export { AgentPresence, type PresenceOptions } from "./presence.ts";
export * from "./agent-loop/index.ts";
