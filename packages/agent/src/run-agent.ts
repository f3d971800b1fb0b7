import { readFileSync } from "node:fs";
import { roleUser } from "@baton/contracts";
import { ConfigError, credentialsUser, loadConfig, type ServiceContext, startService } from "@baton/core";
import { isToolProvider, type Tool, ToolRegistry } from "@baton/tools";
import type { z } from "zod";
import { WorkerEnv } from "./config.ts";
import type { AgentDefinition, AgentEnv, AgentToolEntry, AgentTools } from "./define-agent.ts";
import { runWorkerService } from "./worker-service.ts";

/** Options of {@link runAgent}. */
export interface RunAgentOptions {
  /** The environment to read settings from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * On a start-up failure (bad configuration, NATS unreachable, tools that fail to build), print
   * one line to stderr and exit the process with code 1 instead of rejecting. Default true.
   */
  readonly exitOnStartFailure?: boolean;
  /** Stop gracefully on SIGTERM / SIGINT and exit 0. Default true. */
  readonly handleSignals?: boolean;
}

/** A running agent replica. */
export interface RunningAgent {
  /** Unique per process, e.g. `weather-agent-3f9c2a1b`. */
  readonly instanceId: string;
  /** The service context (connection, logger, tracing) the replica runs in. */
  readonly service: ServiceContext;
  /** Stops pulling, lets in-flight steps finish for SHUTDOWN_GRACE_MS, deregisters the replica and closes the tools. */
  stop(): Promise<void>;
}

/**
 * Runs one replica of an agent type — everything a built-in worker has:
 * 1. parses the environment once ({@link WorkerEnv} plus the agent's `env`), with a message
 *    naming every bad variable;
 * 2. connects to NATS (retried for 30 s, then reconnecting forever), provisions Baton's streams
 *    and buckets and the agent's durable work consumer `<name>-agent` on `work.<name>.>` (the
 *    first replica of a new agent type creates it);
 * 3. builds the tools, publishes the agent card (`baton_agents`) and heartbeats the replica
 *    (`baton_agent_replicas`), keeping the card in step with tool providers such as MCP servers;
 * 4. pulls one step per free slot (WORKER_CONCURRENCY), extends the lease with `working()`,
 *    runs the step's tool calls — or the LLM tool-calling loop when the step has none and a model
 *    is configured — through per-tool timeouts, circuit breakers, the effect ledger (for tools
 *    that are not idempotent) and the task's budget, honours cancellation through the AbortSignal,
 *    traces (OpenTelemetry) and logs (pino), publishes the StepResult, then acks; retryable
 *    failures are `nak`ed with backoff, permanent ones reported and `term`ed;
 * 5. on SIGTERM, stops gracefully and exits 0.
 * @returns once the replica consumes work ("worker ready" is logged).
 * @throws (with `exitOnStartFailure: false`) ConfigError, the connection's last error, or what
 *   building the tools threw.
 */
export async function runAgent<E extends z.ZodObject>(
  definition: AgentDefinition<E>,
  options: RunAgentOptions = {},
): Promise<RunningAgent> {
  try {
    return await startAgent(definition, options);
  } catch (error) {
    if (options.exitOnStartFailure === false) throw error;
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  }
}

async function startAgent<E extends z.ZodObject>(definition: AgentDefinition<E>, options: RunAgentOptions): Promise<RunningAgent> {
  const schema = definition.env ? WorkerEnv.extend(definition.env.shape) : WorkerEnv;
  const env = loadConfig(schema, options.env) as AgentEnv<E>;
  if (env.NATS_CREDS) checkCredentials(env.NATS_CREDS, definition.name);
  const service = await startService(`${definition.name}-agent`, env, { handleSignals: options.handleSignals ?? true });
  let built: { entries: readonly AgentToolEntry[]; close: (() => Promise<void> | void) | undefined };
  try {
    built = normalize(typeof definition.tools === "function" ? await definition.tools(env, { logger: service.logger }) : definition.tools);
  } catch (error) {
    await service.shutdown("tools could not be built");
    throw error;
  }
  const providers = built.entries.filter(isToolProvider);
  service.onShutdown(async () => {
    for (const provider of providers) await provider.close();
    await built.close?.();
  });
  const registry = new ToolRegistry(flatten(built.entries));
  for (const provider of providers) {
    provider.onChange(() => {
      try {
        registry.replace(flatten(built.entries));
      } catch (error) {
        service.logger.error({ err: error }, "tool list change refused; the previous tools stay");
      }
    });
  }
  await runWorkerService({
    service,
    agent: definition.name,
    version: definition.version,
    description: definition.description,
    env,
    registry,
  });
  return { instanceId: service.instanceId, service, stop: () => service.shutdown("stop()") };
}

/**
 * Credentials are minted for one agent type (user `agent-<name>`): running another agent with
 * them would only meet permission violations, so say so at start.
 * @throws ConfigError naming both.
 */
function checkCredentials(file: string, agent: string): void {
  let user: string;
  try {
    user = credentialsUser(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`NATS_CREDS=${file}: ${(error as Error).message}`);
  }
  const expected = roleUser({ kind: "agent", agent });
  if (user !== expected) {
    throw new ConfigError(
      `NATS_CREDS=${file} holds the credentials of "${user}", but this agent needs "${expected}" (baton auth creds agent ${agent})`,
    );
  }
}

function normalize(tools: AgentTools): { entries: readonly AgentToolEntry[]; close: (() => Promise<void> | void) | undefined } {
  if (isEntryList(tools)) return { entries: tools, close: undefined };
  return { entries: tools.tools, close: tools.close?.bind(tools) };
}

function isEntryList(tools: AgentTools): tools is readonly AgentToolEntry[] {
  return Array.isArray(tools);
}

function flatten(entries: readonly AgentToolEntry[]): Tool[] {
  return entries.flatMap((e) => (isToolProvider(e) ? [...e.tools()] : [e]));
}
