import Anthropic from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  TextBlockParam,
  Tool,
} from "@anthropic-ai/sdk/resources/messages";
import { DEFAULT_PRICES, type PriceTable, responseCost } from "./pricing.ts";
import { type SdkLogger, toLlmError, toolInputSchema } from "./sdk-errors.ts";
import type { ChatMessage, ChatProvider, ChatRequest, ChatResponse, StopReason, TextBlock, ToolCallBlock, ToolSpec } from "./types.ts";

/** Options of {@link AnthropicProvider}. */
export interface AnthropicProviderOptions {
  readonly apiKey: string;
  /** API base URL without `/v1` (e.g. `http://127.0.0.1:8080`); default `https://api.anthropic.com`. */
  readonly baseURL?: string | undefined;
  /** Per-attempt HTTP timeout in ms (the SDK's `timeout`); default 60,000. */
  readonly timeoutMs?: number | undefined;
  /**
   * Retries by the SDK of 408/409/429/5xx answers, timeouts and connection errors, with
   * exponential backoff (0.5 s doubling to 8 s, jitter) or the server's `retry-after-ms` /
   * `retry-after`; default 3.
   */
  readonly maxRetries?: number | undefined;
  /** Prices for `ChatResponse.costUsd`; default {@link DEFAULT_PRICES}. */
  readonly prices?: PriceTable | undefined;
  /** Where the SDK logs (retries at `info`, warnings); default: the SDK's console logger. */
  readonly logger?: SdkLogger | undefined;
}

const EPHEMERAL = { type: "ephemeral" } as const;

/**
 * {@link ChatProvider} over the Anthropic Messages API (`POST /v1/messages`) with the official SDK.
 *
 * Request mapping: `system` → one system text block; `tool_call` blocks → `tool_use` blocks in
 * assistant turns; `tool_result` blocks → `tool_result` blocks (`tool_use_id`, `is_error`) placed
 * first in user turns, as the API requires; consecutive turns of one role are merged; empty text
 * blocks are dropped; tools → `{name, description, input_schema}`; `forceTool` →
 * `tool_choice: {type: "tool", name}`. `temperature` is not sent: the Messages API deprecated the
 * sampling parameters (SDK 1.x dropped them; models after Opus 4.6 answer 400 to them), and
 * omitting them is accepted by every model. Prompt caching: `cache_control: {type: "ephemeral"}` on
 * the system block and on the last tool definition, so the stable prefix (tools + system) is
 * cached across the calls of an agent loop.
 *
 * Response: text and `tool_use` blocks in order (other block kinds are skipped); a `tool_use`
 * whose input is not an object gets `arguments: {}` and `parseError`. Usage: `inputTokens` are
 * uncached input tokens (`input_tokens`), `cacheReadTokens` = `cache_read_input_tokens`,
 * `cacheWriteTokens` = `cache_creation_input_tokens`.
 *
 * The SDK's own OpenTelemetry spans are turned off: {@link withTelemetry} emits the GenAI span,
 * and a second `chat` span per call would double-count tokens in GenAI dashboards.
 *
 * @throws LlmError (see {@link toLlmError}).
 */
export class AnthropicProvider implements ChatProvider {
  readonly name = "anthropic";
  readonly #client: Anthropic;
  readonly #prices: PriceTable;

  constructor(options: AnthropicProviderOptions) {
    this.#prices = options.prices ?? DEFAULT_PRICES;
    this.#client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL ?? "https://api.anthropic.com",
      timeout: options.timeoutMs ?? 60_000,
      maxRetries: options.maxRetries ?? 3,
      openTelemetry: false,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    let message: Message;
    try {
      message = await this.#client.messages.create(toAnthropicParams(request), request.signal ? { signal: request.signal } : {});
    } catch (error) {
      throw toLlmError(error, this.name, request.signal);
    }
    return fromAnthropicMessage(message, request, this.#prices);
  }
}

/** The Messages API body for `request` (exported for tests). */
export function toAnthropicParams(request: ChatRequest): MessageCreateParamsNonStreaming {
  const params: MessageCreateParamsNonStreaming = {
    model: request.model,
    max_tokens: request.maxTokens,
    messages: toAnthropicMessages(request.messages),
  };
  if (request.system) {
    const system: TextBlockParam = { type: "text", text: request.system, cache_control: EPHEMERAL };
    params.system = [system];
  }
  if (request.tools?.length) params.tools = toAnthropicTools(request.tools);
  if (request.forceTool) params.tool_choice = { type: "tool", name: request.forceTool };
  return params;
}

function toAnthropicTools(tools: readonly ToolSpec[]): Tool[] {
  return tools.map((tool, i) => ({
    name: tool.name,
    description: tool.description,
    input_schema: { type: "object", ...toolInputSchema(tool.inputSchema) } as Tool.InputSchema,
    ...(i === tools.length - 1 ? { cache_control: EPHEMERAL } : {}),
  }));
}

function toAnthropicBlock(block: ChatMessage["content"][number]): ContentBlockParam[] {
  if (block.type === "text") return block.text ? [{ type: "text", text: block.text }] : [];
  if (block.type === "tool_call") return [{ type: "tool_use", id: block.id, name: block.name, input: block.arguments }];
  return [
    {
      type: "tool_result",
      tool_use_id: block.toolCallId,
      content: block.content,
      ...(block.isError ? { is_error: true } : {}),
    },
  ];
}

function toAnthropicMessages(messages: readonly ChatMessage[]): MessageParam[] {
  const turns: { role: "user" | "assistant"; content: ContentBlockParam[] }[] = [];
  for (const message of messages) {
    const blocks = message.content.flatMap(toAnthropicBlock);
    if (blocks.length === 0) continue;
    const last = turns.at(-1);
    if (last && last.role === message.role) last.content.push(...blocks);
    else turns.push({ role: message.role, content: blocks });
  }
  // In a user turn the tool results must come before any text.
  for (const turn of turns) {
    if (turn.role === "user") {
      turn.content = [...turn.content.filter((b) => b.type === "tool_result"), ...turn.content.filter((b) => b.type !== "tool_result")];
    }
  }
  return turns;
}

const STOP_REASONS: Record<string, StopReason> = {
  end_turn: "end_turn",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  model_context_window_exceeded: "max_tokens",
  stop_sequence: "stop_sequence",
  refusal: "refusal",
};

/** Normalizes a Messages API response (exported for tests). */
export function fromAnthropicMessage(message: Message, request: ChatRequest, prices: PriceTable = DEFAULT_PRICES): ChatResponse {
  const content: (TextBlock | ToolCallBlock)[] = [];
  for (const block of message.content ?? []) {
    if (block.type === "text") {
      if (block.text) content.push({ type: "text", text: block.text });
    } else if (block.type === "tool_use") {
      const input = block.input;
      if (input !== null && typeof input === "object" && !Array.isArray(input)) {
        content.push({ type: "tool_call", id: block.id, name: block.name, arguments: input as Record<string, unknown> });
      } else {
        content.push({
          type: "tool_call",
          id: block.id,
          name: block.name,
          arguments: {},
          parseError: `tool input is not a JSON object: ${JSON.stringify(input)}`,
        });
      }
    }
  }
  const usage = {
    inputTokens: message.usage?.input_tokens ?? 0,
    outputTokens: message.usage?.output_tokens ?? 0,
    cacheReadTokens: message.usage?.cache_read_input_tokens ?? 0,
    cacheWriteTokens: message.usage?.cache_creation_input_tokens ?? 0,
  };
  const model = message.model || request.model;
  return {
    id: message.id ?? "",
    model,
    content,
    stopReason: (message.stop_reason && STOP_REASONS[message.stop_reason]) || "other",
    usage,
    costUsd: responseCost(request.model, model, usage, prices),
  };
}
