import {
  AnthropicError,
  APIConnectionError as AnthropicConnectionError,
  APIConnectionTimeoutError as AnthropicTimeoutError,
  APIError as AnthropicAPIError,
  APIUserAbortError as AnthropicAbortError,
} from "@anthropic-ai/sdk";
import {
  APIConnectionError as OpenAIConnectionError,
  APIConnectionTimeoutError as OpenAITimeoutError,
  APIError as OpenAIAPIError,
  APIUserAbortError as OpenAIAbortError,
  OpenAIError,
} from "openai";
import { LlmError } from "./errors.ts";

/**
 * Shared pieces of the SDK adapters: mapping SDK errors onto {@link LlmError}, and the logger
 * bridge. Both SDKs (Stainless-generated) have the same error hierarchy under different classes:
 * `APIError` (with `status`) → `RateLimitError` (429), `InternalServerError` (5xx), …;
 * `APIConnectionError` → `APIConnectionTimeoutError`; `APIUserAbortError` (the caller's signal).
 */

/** Low-cardinality kind of an LLM failure: the `error.type` span attribute. */
export type LlmErrorType = "cancelled" | "timeout" | "connection_error" | "invalid_response" | `${number}` | "_OTHER";

const errorTypes = new WeakMap<LlmError, LlmErrorType>();

/** The kind of an error thrown by a provider (see {@link LlmErrorType}); `_OTHER` when unknown. */
export function llmErrorType(error: unknown): LlmErrorType {
  if (error instanceof LlmError) return errorTypes.get(error) ?? (error.status ? `${error.status}` : "_OTHER");
  return "_OTHER";
}

/** Builds an LlmError and remembers its kind for telemetry. */
export function makeLlmError(
  type: LlmErrorType,
  message: string,
  options: { retryable: boolean; status?: number; cause?: unknown },
): LlmError {
  const error = new LlmError(message, options);
  errorTypes.set(error, type);
  return error;
}

/** HTTP statuses worth retrying later: request timeout, rate limit, server errors. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function isInstance(error: unknown, classes: readonly (abstract new (...args: never[]) => unknown)[]): boolean {
  return classes.some((c) => error instanceof c);
}

/** The provider's own error message from an `APIError` body (`{error: {message}}`), if any. */
function apiMessage(error: AnthropicAPIError | OpenAIAPIError): string {
  const body: unknown = error.error;
  const field = (value: unknown, key: string): unknown =>
    value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
  const nested = field(field(body, "error"), "message") ?? field(body, "message");
  if (typeof nested === "string" && nested) return nested;
  return error.message;
}

/**
 * Maps what an SDK call threw onto an {@link LlmError} (an LlmError passes through):
 * - the caller's `signal` aborted (`APIUserAbortError`) → `"cancelled"`, not retryable;
 * - `APIConnectionTimeoutError` (the `timeout` option, after the SDK's retries) → retryable;
 * - `APIConnectionError` (refused, reset, DNS) → retryable;
 * - `APIError` with a status → retryable for 408, 429 and 5xx, not for other 4xx;
 * - other SDK errors (client misuse) → not retryable; anything else (e.g. an unparseable
 *   body) → retryable.
 * `provider` prefixes the message (`anthropic: 429 rate limited …`).
 */
export function toLlmError(error: unknown, provider: string, signal?: AbortSignal): LlmError {
  if (error instanceof LlmError) return error;
  if (isInstance(error, [AnthropicAbortError, OpenAIAbortError]) || signal?.aborted) {
    return makeLlmError("cancelled", "cancelled", { retryable: false, cause: error });
  }
  if (isInstance(error, [AnthropicTimeoutError, OpenAITimeoutError])) {
    return makeLlmError("timeout", `${provider}: request timed out`, { retryable: true, cause: error });
  }
  if (isInstance(error, [AnthropicConnectionError, OpenAIConnectionError])) {
    const cause = (error as Error).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : "";
    return makeLlmError("connection_error", `${provider}: connection failed${detail}`, { retryable: true, cause: error });
  }
  if (error instanceof AnthropicAPIError || error instanceof OpenAIAPIError) {
    const status = error.status;
    if (typeof status === "number") {
      return makeLlmError(`${status}`, `${provider}: HTTP ${status}: ${apiMessage(error)}`, {
        retryable: retryableStatus(status),
        status,
        cause: error,
      });
    }
    return makeLlmError("_OTHER", `${provider}: ${error.message}`, { retryable: true, cause: error });
  }
  if (error instanceof AnthropicError || error instanceof OpenAIError) {
    return makeLlmError("_OTHER", `${provider}: ${error.message}`, { retryable: false, cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return makeLlmError("invalid_response", `${provider}: ${message}`, { retryable: true, cause: error });
}

/** The logger interface both SDKs accept (`logger` client option). */
export interface SdkLogger {
  error(message: string, ...rest: unknown[]): void;
  warn(message: string, ...rest: unknown[]): void;
  info(message: string, ...rest: unknown[]): void;
  debug(message: string, ...rest: unknown[]): void;
}

/** What {@link sdkLogger} needs from a pino logger. */
interface PinoLike {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/** Routes an SDK's log lines (retries, deprecations) into a pino logger, tagged with `sdk`. */
export function sdkLogger(logger: PinoLike, sdk: string): SdkLogger {
  const line =
    (level: keyof PinoLike) =>
    (message: string, ...rest: unknown[]) =>
      logger[level]({ sdk, ...(rest.length ? { details: rest } : {}) }, message);
  return { error: line("error"), warn: line("warn"), info: line("info"), debug: line("debug") };
}

/** Top-level `$schema` is dropped from tool input schemas: providers need only the schema body. */
export function toolInputSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}
