import { BatonError } from "@baton/core";

/**
 * A chat call failed. `retryable` is true for rate limits (429), server errors (5xx), timeouts
 * and connection errors — after the SDK's own retries (which honour `retry-after`) are spent —
 * and false for other 4xx (bad request, authentication, permission) and for cancellation.
 */
export class LlmError extends BatonError {
  override readonly name = "LlmError";
  /** HTTP status when the provider answered, else undefined. */
  readonly status: number | undefined;
  constructor(message: string, options: { retryable: boolean; status?: number; cause?: unknown }) {
    super("LLM_FAILED", message, { retryable: options.retryable, cause: options.cause });
    this.status = options.status;
  }
}
