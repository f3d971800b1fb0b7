/**
 * The provider-neutral chat-with-tools interface. Adapters map it onto the Anthropic Messages
 * API and the OpenAI Chat Completions API (and any OpenAI-compatible server).
 */

/** Text from the model or the user. */
export interface TextBlock {
  readonly type: "text";
  readonly text: string;
}

/**
 * A tool call the model asked for. `arguments` is the parsed JSON object; when the model's
 * arguments were not valid JSON (OpenAI returns them as a string), `arguments` is `{}` and
 * `parseError` says why, so the caller can send the error back instead of crashing.
 */
export interface ToolCallBlock {
  readonly type: "tool_call";
  /** The provider's call id (`toolu_…` / `call_…`); tool results must echo it. */
  readonly id: string;
  readonly name: string;
  readonly arguments: Record<string, unknown>;
  readonly parseError?: string;
}

/** The result of a tool call, sent back to the model in the next user turn. */
export interface ToolResultBlock {
  readonly type: "tool_result";
  readonly toolCallId: string;
  /** What the model reads: the tool's output or error, already serialized and size-limited. */
  readonly content: string;
  readonly isError?: boolean;
}

export type ContentBlock = TextBlock | ToolCallBlock | ToolResultBlock;

/** One conversation turn. Tool results travel in `user` turns (as both providers require). */
export interface ChatMessage {
  readonly role: "user" | "assistant";
  readonly content: readonly ContentBlock[];
}

/** A tool as the model sees it. `inputSchema` is a JSON Schema object (draft 2020-12). */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}

/** Which process role makes a call: each role has its own model (a cheap router, a strong synthesizer). */
export type LlmRole = "planner" | "worker" | "synthesizer";

/** One chat request. */
export interface ChatRequest {
  readonly model: string;
  readonly system?: string;
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ToolSpec[];
  /** Force a call of this tool (structured output through a tool's input schema). */
  readonly forceTool?: string;
  /** Output token limit of this call. */
  readonly maxTokens: number;
  readonly temperature?: number;
  /** Cancels the HTTP request. */
  readonly signal?: AbortSignal;
  /** Attribution for spans, logs and cost: never sent to the provider. */
  readonly attribution?: { readonly taskId?: string; readonly stepId?: string; readonly agent?: string; readonly role?: LlmRole };
}

/** Why the model stopped: normalized across providers. */
export type StopReason = "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal" | "other";

/** Tokens of one call. Cache counters are Anthropic prompt-caching reads/writes (0 elsewhere). */
export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
}

/** One chat response. `content` holds text and tool-call blocks in the model's order. */
export interface ChatResponse {
  readonly id: string;
  readonly model: string;
  readonly content: readonly (TextBlock | ToolCallBlock)[];
  readonly stopReason: StopReason;
  readonly usage: TokenUsage;
  /** Cost of this call in USD from the price table (0 when the model has no price). */
  readonly costUsd: number;
}

/** A chat model behind one provider. Implementations never throw for a malformed tool call (see {@link ToolCallBlock}). */
export interface ChatProvider {
  /** `gen_ai.provider.name`: `anthropic` or `openai`. */
  readonly name: string;
  /**
   * @throws LlmError (retryable for 429, 5xx, timeouts and connection errors after the SDK's own
   *   retries are spent; not retryable for 4xx like invalid requests or authentication).
   */
  chat(request: ChatRequest): Promise<ChatResponse>;
}

/** Text of a response's text blocks, joined. */
export function responseText(response: Pick<ChatResponse, "content">): string {
  return response.content
    .filter((b): b is TextBlock => b.type === "text")
    .map((b) => b.text)
    .join("");
}

/** The tool calls of a response, in order. */
export function responseToolCalls(response: Pick<ChatResponse, "content">): ToolCallBlock[] {
  return response.content.filter((b): b is ToolCallBlock => b.type === "tool_call");
}

/** A configured LLM: the provider and the model of each role. */
export interface LlmSetup {
  readonly provider: ChatProvider;
  readonly models: Readonly<Record<LlmRole, string>>;
  /** Output token limit per call (LLM_MAX_OUTPUT_TOKENS). */
  readonly maxOutputTokens: number;
}
