import OpenAI from "openai";
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionFunctionTool,
  ChatCompletionMessageParam,
  ChatCompletionMessageToolCall,
} from "openai/resources/chat/completions";
import { DEFAULT_PRICES, type PriceTable, responseCost } from "./pricing.ts";
import { makeLlmError, type SdkLogger, toLlmError, toolInputSchema } from "./sdk-errors.ts";
import type { ChatMessage, ChatProvider, ChatRequest, ChatResponse, StopReason, TextBlock, ToolCallBlock, ToolSpec } from "./types.ts";

/** The API key sent when none is configured (local OpenAI-compatible servers ignore it). */
export const PLACEHOLDER_API_KEY = "not-needed";

/** Options of {@link OpenAIProvider}. */
export interface OpenAIProviderOptions {
  /** Default {@link PLACEHOLDER_API_KEY}: servers behind `baseURL` (Ollama, vLLM, llama.cpp) need none. */
  readonly apiKey?: string | undefined;
  /**
   * API base URL including `/v1` (e.g. `http://127.0.0.1:11434/v1` for Ollama); default
   * `https://api.openai.com/v1`.
   */
  readonly baseURL?: string | undefined;
  /** Per-attempt HTTP timeout in ms (the SDK's `timeout`); default 60,000. */
  readonly timeoutMs?: number | undefined;
  /**
   * Retries by the SDK of 408/409/429/5xx answers, timeouts and connection errors, with
   * exponential backoff (0.5 s doubling to 8 s, jitter) or the server's `retry-after-ms` /
   * `retry-after`; default 3.
   */
  readonly maxRetries?: number | undefined;
  /**
   * How the output limit is sent: `max_completion_tokens` (OpenAI; required by reasoning models)
   * or the older `max_tokens` (what every OpenAI-compatible server understands). Default:
   * `max_completion_tokens` for api.openai.com, `max_tokens` for a custom `baseURL`.
   */
  readonly maxTokensParam?: "max_completion_tokens" | "max_tokens" | undefined;
  /** Prices for `ChatResponse.costUsd`; default {@link DEFAULT_PRICES}. */
  readonly prices?: PriceTable | undefined;
  /** Where the SDK logs (retries at `info`, warnings); default: the SDK's console logger. */
  readonly logger?: SdkLogger | undefined;
}

/**
 * {@link ChatProvider} over the OpenAI Chat Completions API (`POST <baseURL>/chat/completions`)
 * with the official SDK; works with any OpenAI-compatible server (Ollama, vLLM, llama.cpp).
 *
 * Request mapping: `system` → a `system` message first; assistant `tool_call` blocks →
 * `tool_calls` (arguments as JSON text); `tool_result` blocks → one `role: "tool"` message each
 * (`tool_call_id`; error results prefixed with `ERROR: `), placed right after the assistant turn,
 * then the turn's text as a `user` message; consecutive turns of one role are merged; tools →
 * `{type: "function", function: {name, description, parameters}}`; `forceTool` →
 * `tool_choice: {type: "function", function: {name}}`.
 *
 * Response: the first choice's text, then its tool calls in order. Arguments that are not a JSON
 * object give `arguments: {}` and `parseError` (never a throw); empty arguments are `{}`.
 * `finish_reason` `stop` → `end_turn` (`tool_use` when the message has tool calls, as some
 * compatible servers answer), `tool_calls` → `tool_use`, `length` → `max_tokens`,
 * `content_filter` → `refusal`. Usage: `prompt_tokens` includes cached tokens, so `inputTokens` =
 * `prompt_tokens − cached_tokens` and `cacheReadTokens` = `prompt_tokens_details.cached_tokens`
 * (input + cache reads is the whole prompt, as with Anthropic); `cacheWriteTokens` is 0.
 *
 * @throws LlmError (see {@link toLlmError}).
 */
export class OpenAIProvider implements ChatProvider {
  readonly name = "openai";
  readonly #client: OpenAI;
  readonly #prices: PriceTable;
  readonly #maxTokensParam: "max_completion_tokens" | "max_tokens";

  constructor(options: OpenAIProviderOptions = {}) {
    this.#prices = options.prices ?? DEFAULT_PRICES;
    this.#maxTokensParam = options.maxTokensParam ?? (options.baseURL ? "max_tokens" : "max_completion_tokens");
    this.#client = new OpenAI({
      apiKey: options.apiKey || PLACEHOLDER_API_KEY,
      baseURL: options.baseURL ?? "https://api.openai.com/v1",
      timeout: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 3,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    let completion: ChatCompletion;
    try {
      completion = await this.#client.chat.completions.create(
        toOpenAIParams(request, this.#maxTokensParam),
        request.signal ? { signal: request.signal } : {},
      );
    } catch (error) {
      throw toLlmError(error, this.name, request.signal);
    }
    return fromOpenAICompletion(completion, request, this.#prices);
  }
}

/** The Chat Completions body for `request` (exported for tests). */
export function toOpenAIParams(
  request: ChatRequest,
  maxTokensParam: "max_completion_tokens" | "max_tokens" = "max_completion_tokens",
): ChatCompletionCreateParamsNonStreaming {
  const params: ChatCompletionCreateParamsNonStreaming = {
    model: request.model,
    messages: toOpenAIMessages(request.system, request.messages),
    [maxTokensParam]: request.maxTokens,
  };
  if (request.tools?.length) params.tools = toOpenAITools(request.tools);
  if (request.forceTool) params.tool_choice = { type: "function", function: { name: request.forceTool } };
  if (request.temperature !== undefined) params.temperature = request.temperature;
  return params;
}

function toOpenAITools(tools: readonly ToolSpec[]): ChatCompletionFunctionTool[] {
  return tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: toolInputSchema(tool.inputSchema) },
  }));
}

function mergeTurns(messages: readonly ChatMessage[]): ChatMessage[] {
  const turns: { role: ChatMessage["role"]; content: ChatMessage["content"][number][] }[] = [];
  for (const message of messages) {
    const last = turns.at(-1);
    if (last && last.role === message.role) last.content.push(...message.content);
    else turns.push({ role: message.role, content: [...message.content] });
  }
  return turns;
}

function toOpenAIMessages(system: string | undefined, messages: readonly ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: "system", content: system });
  for (const turn of mergeTurns(messages)) {
    const text = turn.content
      .filter((b): b is TextBlock => b.type === "text")
      .map((b) => b.text)
      .filter(Boolean)
      .join("\n\n");
    if (turn.role === "assistant") {
      const toolCalls: ChatCompletionMessageToolCall[] = turn.content
        .filter((b): b is ToolCallBlock => b.type === "tool_call")
        .map((b) => ({ id: b.id, type: "function", function: { name: b.name, arguments: JSON.stringify(b.arguments) } }));
      if (!text && toolCalls.length === 0) continue;
      out.push({ role: "assistant", content: text || null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) });
      continue;
    }
    for (const block of turn.content) {
      if (block.type !== "tool_result") continue;
      out.push({ role: "tool", tool_call_id: block.toolCallId, content: block.isError ? `ERROR: ${block.content}` : block.content });
    }
    if (text) out.push({ role: "user", content: text });
  }
  return out;
}

/** Parses tool-call arguments: never throws (see {@link ToolCallBlock.parseError}). */
export function parseToolArguments(raw: unknown): { arguments: Record<string, unknown>; parseError?: string } {
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) return { arguments: raw as Record<string, unknown> };
  if (typeof raw !== "string") return { arguments: {}, parseError: `arguments are not a JSON object: ${JSON.stringify(raw)}` };
  if (raw.trim() === "") return { arguments: {} };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    return { arguments: {}, parseError: `arguments are not valid JSON (${(error as Error).message}): ${truncate(raw, 200)}` };
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) return { arguments: value as Record<string, unknown> };
  return { arguments: {}, parseError: `arguments are not a JSON object: ${truncate(raw, 200)}` };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

const FINISH_REASONS: Record<string, StopReason> = {
  stop: "end_turn",
  tool_calls: "tool_use",
  function_call: "tool_use",
  length: "max_tokens",
  content_filter: "refusal",
};

/**
 * Normalizes a Chat Completions response (exported for tests).
 * @throws LlmError (retryable) when the response has no choice.
 */
export function fromOpenAICompletion(completion: ChatCompletion, request: ChatRequest, prices: PriceTable = DEFAULT_PRICES): ChatResponse {
  const choice = completion.choices?.[0];
  if (!choice?.message) {
    throw makeLlmError("invalid_response", "openai: the response has no choices", { retryable: true });
  }
  const message = choice.message;
  const content: (TextBlock | ToolCallBlock)[] = [];
  const refusal = typeof message.refusal === "string" && message.refusal ? message.refusal : undefined;
  const text = typeof message.content === "string" && message.content ? message.content : refusal;
  if (text) content.push({ type: "text", text });
  for (const call of message.tool_calls ?? []) {
    if (call.type === "custom") {
      content.push({
        type: "tool_call",
        id: call.id,
        name: call.custom.name,
        arguments: {},
        parseError: "custom tool calls are not supported",
      });
      continue;
    }
    const parsed = parseToolArguments(call.function?.arguments);
    content.push({ type: "tool_call", id: call.id, name: call.function?.name ?? "", ...parsed });
  }
  const hasToolCalls = content.some((b) => b.type === "tool_call");
  let stopReason: StopReason = FINISH_REASONS[choice.finish_reason ?? ""] ?? "other";
  if (stopReason === "end_turn" && hasToolCalls) stopReason = "tool_use";
  if (refusal && !message.content) stopReason = "refusal";
  const promptTokens = completion.usage?.prompt_tokens ?? 0;
  const cached = Math.min(completion.usage?.prompt_tokens_details?.cached_tokens ?? 0, promptTokens);
  const usage = {
    inputTokens: promptTokens - cached,
    outputTokens: completion.usage?.completion_tokens ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
  const model = completion.model || request.model;
  return {
    id: completion.id ?? "",
    model,
    content,
    stopReason,
    usage,
    costUsd: responseCost(request.model, model, usage, prices),
  };
}
