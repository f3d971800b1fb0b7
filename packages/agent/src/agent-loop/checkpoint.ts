import { AgentName, StepId, TaskId, ToolCallResult, ToolName, Usage } from "@baton/contracts";
import { z } from "zod";

/** Content blocks and messages as JSON (see @baton/llm's types); unknown fields are dropped. */
const TextBlockJson = z.object({ type: z.literal("text"), text: z.string() });
const ToolCallBlockJson = z.object({
  type: z.literal("tool_call"),
  id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.record(z.string(), z.unknown()),
  parseError: z.string().optional(),
});
const ToolResultBlockJson = z.object({
  type: z.literal("tool_result"),
  toolCallId: z.string(),
  content: z.string(),
  isError: z.boolean().optional(),
});
const ChatMessageJson = z.object({
  role: z.enum(["user", "assistant"]),
  content: z.array(z.discriminatedUnion("type", [TextBlockJson, ToolCallBlockJson, ToolResultBlockJson])),
});

/** A person's decision on one call, matched by tool and `argsHash` (SHA-256 of the canonical JSON arguments, `argsHash` of @baton/tools). */
export const LoopApprovalDecision = z.object({
  tool: ToolName,
  argsHash: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lower-case hex digits"),
  decision: z.enum(["approve", "deny"]),
  /** Who decided; shown to the model when a call is denied. */
  approver: z.string().min(1).max(128),
  comment: z.string().max(2_000).optional(),
});
export type LoopApprovalDecision = z.infer<typeof LoopApprovalDecision>;

/**
 * The paused state of an agent-loop run that waits for a person's approval, as plain JSON: the
 * worker stores it (a KV bucket) and passes it back as `approval.resume` to continue.
 *
 * Size: it is the conversation, cut nowhere — roughly what the next model request would carry,
 * plus the step's tool-call results:
 * - `conversation`: the task message (instruction, goal, upstream results each cut to
 *   `maxToolResultChars`), the summary of compacted turns, and the turns kept verbatim. Compaction
 *   runs before every model call, so this is about `summarizeAfterChars` (default 24,000
 *   characters), or more when the last `keepLastTurns` turns alone are larger (each tool result
 *   in them is at most `maxToolResultChars` + ~150 characters of fence);
 * - `pending`: the paused turn — the model's text and tool calls (at most `maxOutputTokens`
 *   tokens of output) and the decisions already given for it;
 * - `toolCalls`: every tool-call result of the step so far, outputs included (the step report
 *   needs them): at most `maxOutputBytes` (default 262,144) bytes of JSON per call. With large
 *   tool outputs this is the largest part; a worker storing checkpoints in a bucket with a value
 *   limit should check `JSON.stringify(checkpoint).length` against it.
 * JSON escaping adds a little to each string.
 */
export const LoopCheckpoint = z.object({
  /** Format of this checkpoint; a different one is refused on resume. */
  version: z.literal(1),
  /** The step it belongs to: a resume with other work is refused. */
  taskId: TaskId,
  stepId: StepId,
  agent: AgentName,
  /** Agent model calls made so far, the paused turn's included (`maxTurns` counts across pauses). */
  turns: z.number().int().nonnegative(),
  /** Tokens and cost of every model call so far (summarization included); `toolCalls` = `toolCalls.length`. */
  usage: Usage,
  /** The results of every tool call run so far, in order (not the paused turn's calls). */
  toolCalls: z.array(ToolCallResult),
  /** The conversation before the paused turn. */
  conversation: z.object({
    /** The first user turn (the task). */
    task: ChatMessageJson,
    /** The summary of compacted turns: its text and the fenced text block sent to the model. */
    summary: z.object({ text: z.string(), block: z.string() }).optional(),
    /** The turns kept verbatim: each assistant message with its tool calls and the user message with their results. */
    turns: z.array(z.object({ call: ChatMessageJson, results: ChatMessageJson })),
  }),
  /** The paused turn: the model's content (text and tool calls), none of whose calls ran yet. */
  pending: z.object({
    content: z.array(z.discriminatedUnion("type", [TextBlockJson, ToolCallBlockJson])).min(1),
    /** Decisions already given for calls of this turn (kept when a resume still lacks one). */
    decisions: z.array(LoopApprovalDecision).default([]),
  }),
});
export type LoopCheckpoint = z.infer<typeof LoopCheckpoint>;
