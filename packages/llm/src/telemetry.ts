import { type Attributes, type Span, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import { llmErrorType } from "./sdk-errors.ts";
import type { ChatProvider, ChatRequest, ChatResponse } from "./types.ts";

/** Options of {@link withTelemetry}. */
export interface TelemetryOptions {
  /**
   * Record prompts and completions as span events `gen_ai.content.prompt` (attribute
   * `gen_ai.prompt`) and `gen_ai.content.completion` (attribute `gen_ai.completion`), JSON,
   * each cut to {@link MAX_CONTENT_CHARS}. Default false: content may hold user data.
   */
  readonly captureContent?: boolean | undefined;
  /** Default `trace.getTracer("@baton/llm")` (resolved per call, so a provider registered later is used). */
  readonly tracer?: Tracer | undefined;
}

/** Longest prompt/completion text recorded on a span event, in characters. */
export const MAX_CONTENT_CHARS = 32_768;

/**
 * Wraps `provider` so that every call is a CLIENT span `chat <model>` following the OpenTelemetry
 * GenAI semantic conventions, a child of the active span (the step's):
 * - request: `gen_ai.operation.name` = `chat`, `gen_ai.provider.name` and the legacy
 *   `gen_ai.system` (the provider's name), `gen_ai.request.model`, `gen_ai.request.max_tokens`,
 *   `gen_ai.request.temperature` (when set), `gen_ai.agent.name`, `baton.task.id`,
 *   `baton.step.id`, `baton.llm.role` (from `request.attribution`);
 * - response: `gen_ai.response.model`, `gen_ai.response.id`, `gen_ai.response.finish_reasons`
 *   (normalized stop reason), `gen_ai.usage.input_tokens` (all input tokens: uncached + cache
 *   reads + cache writes, as the conventions ask), `gen_ai.usage.output_tokens`,
 *   `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`,
 *   `baton.cost_usd`;
 * - failure: status ERROR, the exception recorded, `error.type` (HTTP status, `timeout`,
 *   `connection_error`, `cancelled`, …) and the error is rethrown unchanged.
 * No prompt or response content is recorded unless `captureContent` is true.
 */
export function withTelemetry(provider: ChatProvider, options: TelemetryOptions = {}): ChatProvider {
  return {
    name: provider.name,
    chat: (request) => tracedChat(provider, request, options),
  };
}

async function tracedChat(provider: ChatProvider, request: ChatRequest, options: TelemetryOptions): Promise<ChatResponse> {
  const tracer = options.tracer ?? trace.getTracer("@baton/llm");
  return tracer.startActiveSpan(
    `chat ${request.model}`,
    { kind: SpanKind.CLIENT, attributes: requestAttributes(provider.name, request) },
    async (span: Span) => {
      try {
        if (options.captureContent) {
          span.addEvent("gen_ai.content.prompt", {
            "gen_ai.prompt": contentJson({ system: request.system, messages: request.messages }),
          });
        }
        const response = await provider.chat(request);
        span.setAttributes(responseAttributes(response));
        if (options.captureContent) {
          span.addEvent("gen_ai.content.completion", { "gen_ai.completion": contentJson(response.content) });
        }
        return response;
      } catch (error) {
        span.setAttribute("error.type", llmErrorType(error));
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}

function requestAttributes(providerName: string, request: ChatRequest): Attributes {
  const attributes: Attributes = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": providerName,
    "gen_ai.system": providerName,
    "gen_ai.request.model": request.model,
    "gen_ai.request.max_tokens": request.maxTokens,
  };
  if (request.temperature !== undefined) attributes["gen_ai.request.temperature"] = request.temperature;
  const attribution = request.attribution;
  if (attribution?.agent) attributes["gen_ai.agent.name"] = attribution.agent;
  if (attribution?.taskId) attributes["baton.task.id"] = attribution.taskId;
  if (attribution?.stepId) attributes["baton.step.id"] = attribution.stepId;
  if (attribution?.role) attributes["baton.llm.role"] = attribution.role;
  return attributes;
}

function responseAttributes(response: ChatResponse): Attributes {
  const { usage } = response;
  return {
    "gen_ai.response.model": response.model,
    "gen_ai.response.id": response.id,
    "gen_ai.response.finish_reasons": [response.stopReason],
    "gen_ai.usage.input_tokens": usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens,
    "gen_ai.usage.output_tokens": usage.outputTokens,
    "gen_ai.usage.cache_read.input_tokens": usage.cacheReadTokens,
    "gen_ai.usage.cache_creation.input_tokens": usage.cacheWriteTokens,
    "baton.cost_usd": response.costUsd,
  };
}

function contentJson(value: unknown): string {
  const json = JSON.stringify(value) ?? "";
  return json.length <= MAX_CONTENT_CHARS ? json : `${json.slice(0, MAX_CONTENT_CHARS)}…[truncated]`;
}
