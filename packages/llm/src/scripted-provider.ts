import type { ChatProvider, ChatRequest, ChatResponse, StopReason, TextBlock, ToolCallBlock } from "./types.ts";

/** One scripted reply: content blocks (text / tool calls), or a function of the request. */
export type ScriptedReply =
  | {
      readonly text?: string;
      readonly toolCalls?: readonly { id?: string; name: string; arguments: Record<string, unknown>; parseError?: string }[];
      readonly stopReason?: StopReason;
      readonly usage?: { inputTokens: number; outputTokens: number };
    }
  | ((request: ChatRequest) => ChatResponse | Promise<ChatResponse>);

/**
 * An in-process model that replays scripted replies in order and records every request —
 * the scripted model for unit tests of agent loops (as in openai-agents-js). For the real SDKs
 * over HTTP, tests use the scripted provider server instead. Throws when the script runs out.
 */
export class ScriptedChatProvider implements ChatProvider {
  readonly name = "scripted";
  readonly requests: ChatRequest[] = [];
  readonly #replies: ScriptedReply[];
  #callId = 0;

  constructor(replies: readonly ScriptedReply[]) {
    this.#replies = [...replies];
  }

  /** Replies not used yet. */
  get remaining(): number {
    return this.#replies.length;
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(structuredClone({ ...request, signal: undefined }));
    const reply = this.#replies.shift();
    if (!reply) throw new Error(`ScriptedChatProvider: no reply scripted for call ${this.requests.length}`);
    if (typeof reply === "function") return reply(request);
    const content: (TextBlock | ToolCallBlock)[] = [];
    if (reply.text) content.push({ type: "text", text: reply.text });
    for (const call of reply.toolCalls ?? []) {
      content.push({
        type: "tool_call",
        id: call.id ?? `call_${++this.#callId}`,
        name: call.name,
        arguments: call.arguments,
        ...(call.parseError ? { parseError: call.parseError } : {}),
      });
    }
    const usage = reply.usage ?? { inputTokens: 10, outputTokens: 5 };
    return {
      id: `scripted-${this.requests.length}`,
      model: request.model,
      content,
      stopReason: reply.stopReason ?? (reply.toolCalls?.length ? "tool_use" : "end_turn"),
      usage: { ...usage, cacheReadTokens: 0, cacheWriteTokens: 0 },
      costUsd: 0,
    };
  }
}
