import { type ErrorInfo, toFieldIssues } from "@baton/contracts";
import type { z } from "zod";
import { ValidationError } from "./errors.ts";

/** Result of {@link decodeJson}: the parsed value, or a bus error naming the offending fields. */
export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ErrorInfo };

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses bytes as UTF-8 JSON and validates them with `schema`. Never throws: bad UTF-8 or JSON
 * gives `INVALID_JSON`; a schema failure gives `VALIDATION_FAILED` with dotted field paths.
 */
export function decodeJson<S extends z.ZodType>(data: Uint8Array, schema: S): Decoded<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (error) {
    return {
      ok: false,
      error: { code: "INVALID_JSON", message: `payload is not valid UTF-8 JSON: ${(error as Error).message}`, retryable: false },
    };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issues = toFieldIssues(parsed.error);
  return {
    ok: false,
    error: {
      code: "VALIDATION_FAILED",
      message: `invalid message: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      retryable: false,
      issues,
    },
  };
}

const encoder = new TextEncoder();

/**
 * Validates `value` with `schema` and encodes it as UTF-8 JSON.
 * @throws ValidationError when `value` does not match (a bug in the caller: our own messages must be valid).
 */
export function encodeJson<S extends z.ZodType>(schema: S, value: z.input<S>): Uint8Array {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(`refusing to publish an invalid message: ${parsed.error.message}`, toFieldIssues(parsed.error));
  }
  return encoder.encode(JSON.stringify(parsed.data));
}
