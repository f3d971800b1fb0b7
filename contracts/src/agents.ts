import { z } from "zod";
import { notReserved, RESERVED_MESSAGE } from "./limits.ts";
import { Timestamp } from "./ids.ts";
import { SchemaVersion } from "./version.ts";

/**
 * An agent type's name: 1–32 characters, a lower-case letter first, then lower-case letters,
 * digits or `-`. It is one NATS subject token (`work.<agent>.<taskId>.<stepId>`), part of the
 * agent's durable consumer name (`<agent>-agent`) and its KV key in `baton_agents`. Any name a
 * worker registers with an {@link AgentCard} can be used in a plan; there is no fixed list.
 */
export const AgentName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,31}$/, "must be 1-32 characters: a lower-case letter, then lower-case letters, digits or '-'")
  .refine(notReserved, RESERVED_MESSAGE);
export type AgentName = z.infer<typeof AgentName>;

/**
 * A tool's name, unique within its agent: 1–64 characters of `A-Z a-z 0-9 _ -` — the names the
 * Anthropic Messages and OpenAI Chat Completions APIs accept for tools.
 */
export const ToolName = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, "must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'")
  .refine(notReserved, RESERVED_MESSAGE);
export type ToolName = z.infer<typeof ToolName>;

/**
 * How much harm a tool can do, least first:
 * - `read`: reads data the agent was given (a corpus, datasets); no side effects;
 * - `compute`: pure computation; no I/O;
 * - `write`: changes state (a file, a database row);
 * - `external`: side effects outside the deployment (network calls, payments, e-mail).
 */
export const RiskTier = z.enum(["read", "compute", "write", "external"]);
export type RiskTier = z.infer<typeof RiskTier>;

/**
 * How a tool's output is best shown in a task's answer. `path` (a JSON Pointer, RFC 6901; empty =
 * the whole output) picks the part to show, `format` how:
 * - `table`: an array of row objects → a Markdown table;
 * - `markdown`: a Markdown string, included as is;
 * - `text`: a plain string, quoted;
 * - `json`: any value, as a JSON code block;
 * - absent: by the part's shape (rows → table, flat object → list, else JSON), as for a tool
 *   that declares no display at all.
 */
export const ToolDisplay = z.strictObject({
  format: z.enum(["table", "markdown", "text", "json"]).optional(),
  path: z
    .string()
    .regex(/^(\/.*)?$/, "must be a JSON Pointer: empty or starting with '/'")
    .max(256)
    .default(""),
});
export type ToolDisplay = z.infer<typeof ToolDisplay>;

/**
 * The saga compensation a tool declares: the tool of the same agent that undoes one call, with
 * arguments taken from the call's output. `args` maps each argument name to a JSON Pointer into
 * the output (e.g. `{ "id": "/id" }`). A plan step whose last tool call declares one gets it as
 * its `compensation` unless the plan gives its own.
 */
export const ToolCompensation = z.strictObject({
  tool: ToolName,
  args: z
    .record(z.string().min(1).max(64), z.string().regex(/^(\/.*)?$/, "must be a JSON Pointer: empty or starting with '/'"))
    .default({}),
});
export type ToolCompensation = z.infer<typeof ToolCompensation>;

/** One tool as its agent card lists it. */
export const ToolCard = z.object({
  name: ToolName,
  /** Written for a model: what the tool does, when to use it, what it returns. */
  description: z.string().min(1).max(8_000),
  /** JSON Schema of the arguments (an object schema; draft 2020-12 unless `$schema` says otherwise). */
  inputSchema: z.record(z.string(), z.unknown()),
  riskTier: RiskTier,
  /** True when running a call twice has the same effect as once (no effect ledger needed). */
  idempotent: z.boolean(),
  /**
   * The tool takes the effect's idempotency key and passes it to the system it changes (a unique
   * key in a database, an `Idempotency-Key` header), so repeating a call in doubt is safe.
   */
  usesIdempotencyKey: z.boolean().optional(),
  /** Wall-clock limit of one call, in ms. */
  timeoutMs: z.number().int().positive().max(3_600_000),
  display: ToolDisplay.optional(),
  compensation: ToolCompensation.optional(),
});
export type ToolCard = z.infer<typeof ToolCard>;

/**
 * An agent type's card, in the KV bucket `baton_agents` under the key `<agent>`: what the
 * supervisor validates plans against, what the LLM planner's prompt is built from, and how the
 * synthesizer shows tool outputs. Written by every replica of the agent when it starts (and when
 * its tool list changes, e.g. an MCP server's); a replica that finds the key gone puts it again.
 * The card outlives the replicas: an agent type stays registered (plans naming it are accepted
 * and wait) until an operator removes it (`baton agents remove <name>`).
 */
export const AgentCard = z.object({
  schemaVersion: SchemaVersion,
  agent: AgentName,
  /** The agent's own version (semver recommended), e.g. `1.2.0`. */
  version: z.string().min(1).max(64),
  /** Written for a planner: what the agent is for, what it can and cannot do. */
  description: z.string().min(1).max(4_000),
  tools: z.array(ToolCard).max(256),
  /** True when the agent runs an LLM tool-calling loop: a step may then leave `toolCalls` out. */
  llm: z.boolean(),
  updatedAt: Timestamp,
});
export type AgentCard = z.infer<typeof AgentCard>;

/**
 * One live replica of an agent, in the KV bucket `baton_agent_replicas` under the key
 * {@link agentReplicaKey}: put on start and every {@link AGENT_HEARTBEAT_MS}, deleted on a clean
 * stop. A replica whose last put is older than {@link AGENT_REPLICA_TTL_MS} (by the server's
 * timestamp) is not live; the bucket's max age removes its key.
 */
export const AgentReplica = z.object({
  schemaVersion: SchemaVersion,
  agent: AgentName,
  /** Unique per process, e.g. `data-agent-3f9c2a1b`. */
  instanceId: z.string().min(1).max(128),
  version: z.string().min(1).max(64),
  startedAt: Timestamp,
  heartbeatAt: Timestamp,
  /** Steps the replica runs at once. */
  concurrency: z.number().int().positive(),
  /** Steps it is running now. */
  inFlight: z.number().int().nonnegative(),
  host: z.string().max(255).optional(),
  pid: z.number().int().positive().optional(),
});
export type AgentReplica = z.infer<typeof AgentReplica>;

/** How often a replica puts its {@link AgentReplica} record, in ms. */
export const AGENT_HEARTBEAT_MS = 5_000;

/**
 * How long a replica counts as live after its last heartbeat, in ms (three heartbeats): a replica
 * that stops heartbeating (killed, partitioned) drops out of its agent's live replicas within this
 * time. Also the max age of the bucket `baton_agent_replicas`.
 */
export const AGENT_REPLICA_TTL_MS = 15_000;

/**
 * The KV key of a replica's record: `<agent>.<instanceId>`, with every character of the instance
 * id outside `A-Z a-z 0-9 _ - =` replaced by `_` (KV keys are subject tokens).
 */
export function agentReplicaKey(agent: AgentName, instanceId: string): string {
  return `${agent}.${instanceId.replace(/[^A-Za-z0-9_=-]/g, "_")}`;
}
