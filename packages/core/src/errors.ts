import { redactString } from "./redact.ts";
import type { ErrorCode, ErrorInfo, FieldIssue } from "@baton/contracts";

/**
 * Base of Baton's error taxonomy (after Temporal's TypeScript SDK): every error has a stable
 * `code` and says whether retrying may succeed. Consumers map retryable errors to `nak`
 * with a delay and the rest to a failure report followed by `term()`.
 */
export class BatonError extends Error {
  override readonly name: string = "BatonError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly issues: FieldIssue[] | undefined;

  /** `message` is kept with credentials replaced (see `redactString`): errors travel on the bus and into logs. */
  constructor(code: ErrorCode, message: string, options: { retryable?: boolean; cause?: unknown; issues?: FieldIssue[] } = {}) {
    super(redactString(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.issues = options.issues;
  }

  /** The error as it travels on the bus. */
  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message, retryable: this.retryable, ...(this.issues ? { issues: this.issues } : {}) };
  }
}

/** A message or value failed its zod schema. Not retryable. */
export class ValidationError extends BatonError {
  override readonly name = "ValidationError";
  constructor(message: string, issues: FieldIssue[], code: ErrorCode = "VALIDATION_FAILED") {
    super(code, message, { retryable: false, issues });
  }
}

/** A dependency (NATS, KV, a store) failed in a way that may pass: retryable. */
export class TransientError extends BatonError {
  override readonly name = "TransientError";
  constructor(message: string, cause?: unknown) {
    super("INTERNAL", message, { retryable: true, cause });
  }
}

/**
 * Thrown by a message handler to have the message redelivered after `delayMs` (a `nak` with
 * that delay) instead of the consumer loop's default backoff. Always retryable.
 */
export class RetryLaterError extends BatonError {
  override readonly name = "RetryLaterError";
  readonly delayMs: number;
  constructor(delayMs: number, cause: { code: ErrorCode; message: string }) {
    super(cause.code, cause.message, { retryable: true });
    this.delayMs = delayMs;
  }
}

/** A service's environment failed its config schema; the message lists each variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "CONFIG_INVALID" as const;
  readonly retryable = false;
}

/**
 * Converts anything thrown into bus error info (unknown errors become retryable INTERNAL), its
 * message with credentials replaced (see `redactString`).
 */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof BatonError) return error.toInfo();
  const message = error instanceof Error ? error.message : String(error);
  return { code: "INTERNAL", message: redactString(message), retryable: isRetryable(error) };
}

/**
 * Errors that say the input or the code is wrong, not that the moment was: a stack overflow or
 * an invalid length (RangeError, e.g. from input nested too deep), unparsable text (SyntaxError),
 * a malformed URI (URIError). Trying again with the same message fails the same way.
 */
function isDeterministic(error: unknown): boolean {
  return error instanceof RangeError || error instanceof SyntaxError || error instanceof URIError;
}

/** `info` with its message (and its issues' messages) cleared of credentials (see `redactString`). */
export function redactErrorInfo<T extends Pick<ErrorInfo, "message" | "issues">>(info: T): T {
  return {
    ...info,
    message: redactString(info.message),
    ...(info.issues ? { issues: info.issues.map((i) => ({ ...i, message: redactString(i.message) })) } : {}),
  };
}

/**
 * Whether retrying the operation that threw `error` may succeed: a BatonError says so itself;
 * RangeError, SyntaxError and URIError never (the input or the code is wrong); other unknown
 * errors yes (connection and timeout errors of libraries arrive as plain Errors).
 */
export function isRetryable(error: unknown): boolean {
  if (error instanceof BatonError || error instanceof ConfigError) return error.retryable;
  return !isDeterministic(error);
}
