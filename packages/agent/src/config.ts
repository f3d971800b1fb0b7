import { BaseServiceEnv, envPositiveInt } from "@baton/core";
import { LlmEnv } from "@baton/llm";
import { z } from "zod";

/**
 * Environment of every worker agent service (extends {@link BaseServiceEnv} and the LLM
 * settings: with an LLM configured, steps without tool calls run the agent loop with
 * `LLM_MODEL_WORKER`).
 * - `WORKER_CONCURRENCY`: steps this process runs at once; default 4.
 * - `BATON_DATA_DIR`: the folder where an agent keeps local state (e.g. an embedded database);
 *   default `.baton` in the working directory. `baton up` and the test stacks set it to theirs.
 * - `WORK_ACK_WAIT_MS`: ack_wait of the agent's work consumer, applied when the replica starts;
 *   default 5,000 ms. Give every replica of an agent the same value.
 * - `STEP_TIMEOUT_MS`: wall-clock limit of one step unless the plan sets one; default 60,000 ms.
 * - `MAX_TOOL_OUTPUT_BYTES`: largest JSON output of one tool call; default 262,144 bytes.
 * - `AGENT_MAX_TURNS`: model calls per step before `MAX_TURNS_EXCEEDED`; default 10.
 * - `STEP_MAX_TOKENS`: a step's token budget (input + output); default 50,000.
 * - `TOOL_RESULT_MAX_CHARS`: a tool result is cut to this many characters (head and tail kept)
 *   before it re-enters the model's context; default 8,000.
 * - `AGENT_SUMMARIZE_AFTER_CHARS`: conversation size that triggers summarizing older turns; default 24,000.
 * - `AGENT_KEEP_LAST_TURNS`: turns kept verbatim when summarizing; default 4.
 * - `STEP_MAX_ATTEMPTS`, `STEP_RETRY_INITIAL_MS`, `STEP_RETRY_MAX_MS`: default retry policy of a
 *   step whose failure is retryable: deliveries in all (3), and exponential backoff with full
 *   jitter from 500 ms doubling up to 30,000 ms. A plan step's `retry` overrides them.
 * - `TOOL_BREAKER_THRESHOLD`: consecutive retryable failures of a tool that open its circuit; default 5.
 * - `TOOL_BREAKER_HALF_OPEN_MS`: how long an open circuit fails fast before trying again; default 10,000 ms.
 */
export const WorkerEnv = BaseServiceEnv.extend(LlmEnv.shape).extend({
  WORKER_CONCURRENCY: envPositiveInt.max(256).default(4),
  BATON_DATA_DIR: z.string().min(1).default(".baton"),
  WORK_ACK_WAIT_MS: envPositiveInt.min(1_000).max(600_000).default(5_000),
  STEP_TIMEOUT_MS: envPositiveInt.default(60_000),
  MAX_TOOL_OUTPUT_BYTES: envPositiveInt.default(262_144),
  AGENT_MAX_TURNS: envPositiveInt.max(100).default(10),
  STEP_MAX_TOKENS: envPositiveInt.default(50_000),
  TOOL_RESULT_MAX_CHARS: envPositiveInt.default(8_000),
  AGENT_SUMMARIZE_AFTER_CHARS: envPositiveInt.default(24_000),
  AGENT_KEEP_LAST_TURNS: envPositiveInt.max(50).default(4),
  STEP_MAX_ATTEMPTS: envPositiveInt.max(10).default(3),
  STEP_RETRY_INITIAL_MS: envPositiveInt.max(60_000).default(500),
  STEP_RETRY_MAX_MS: envPositiveInt.max(600_000).default(30_000),
  TOOL_BREAKER_THRESHOLD: envPositiveInt.max(1_000).default(5),
  TOOL_BREAKER_HALF_OPEN_MS: envPositiveInt.default(10_000),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;
