import { randomUUID } from "node:crypto";
import type { Logger } from "@baton/core";
import { defineTool, type Tool, ToolError } from "@baton/tools";
import { z } from "zod";

/** Wall-clock limit of one notification, in ms. */
export const NOTIFY_TIMEOUT_MS = 10_000;
/** Largest JSON body `notify` sends, in bytes. */
export const MAX_NOTIFY_BYTES = 65_536;
/** Characters of the webhook's response body kept in the output. */
export const MAX_RESPONSE_CHARS = 2_000;

/** Input of `notify`. */
export const NotifyInput = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2_048)
    .describe("The webhook URL; its origin must be in NOTIFY_ALLOWED_ORIGINS"),
  payload: z.record(z.string(), z.unknown()).describe("The JSON object to POST, e.g. { event: 'ticket.created', ticket: … }"),
});

/** The output of `notify`. */
export interface NotifyOutput {
  readonly delivered: true;
  /** The webhook's HTTP status (2xx). */
  readonly status: number;
  /** The `Idempotency-Key` header sent: the same for every repeat of the call. */
  readonly idempotencyKey: string;
  /** The start of the response body (at most {@link MAX_RESPONSE_CHARS} characters). */
  readonly response: string;
}

/** What the notify tool is built from. */
export interface NotifyToolOptions {
  /** Normalised origins (`new URL(x).origin`) that may be called; empty = the tool refuses every URL. */
  readonly allowedOrigins: readonly string[];
  readonly logger?: Logger;
  /** Sent as `User-Agent`; default `baton-tickets-agent`. */
  readonly userAgent?: string;
}

/**
 * The `notify` tool: POSTs `payload` as JSON to `url` with the call's idempotency key in the
 * `Idempotency-Key` header (risk tier `external`, not idempotent, `usesIdempotencyKey`: a repeat
 * of the same call sends the same key, so a receiver that honours the header acts once). Only
 * URLs whose origin is in `allowedOrigins` are called — never an open relay — and redirects are
 * not followed. Errors: `TOOL_REFUSED` for an origin outside the list (naming
 * `NOTIFY_ALLOWED_ORIGINS`); `INVALID_ARGUMENTS` for a body over 64 KiB; `TOOL_FAILED`, retryable
 * for network errors, 408, 429 and 5xx, not retryable for other non-2xx answers and redirects.
 */
export function createNotifyTool(options: NotifyToolOptions): Tool {
  const allowed = new Set(options.allowedOrigins);
  const userAgent = options.userAgent ?? "baton-tickets-agent";
  return defineTool({
    name: "notify",
    description:
      "Sends a notification: POSTs a JSON payload to a webhook URL (only URLs of the origins the operator allowed in NOTIFY_ALLOWED_ORIGINS). " +
      "Use it to tell a team or a system about tickets filed or changed by earlier steps. Returns { delivered, status, idempotencyKey, response }. " +
      "The request carries an Idempotency-Key header, the same when the call is repeated.",
    input: NotifyInput,
    timeoutMs: NOTIFY_TIMEOUT_MS,
    riskTier: "external",
    idempotent: false,
    usesIdempotencyKey: true,
    async execute({ url, payload }, ctx): Promise<NotifyOutput> {
      const target = new URL(url);
      if (!allowed.has(target.origin)) {
        throw new ToolError(
          "TOOL_REFUSED",
          allowed.size === 0
            ? `notify is disabled: no webhook origin is allowed (set NOTIFY_ALLOWED_ORIGINS, e.g. NOTIFY_ALLOWED_ORIGINS=https://hooks.example.com)`
            : `${target.origin} is not in NOTIFY_ALLOWED_ORIGINS (${[...allowed].join(", ")})`,
        );
      }
      if (target.username || target.password) throw new ToolError("TOOL_REFUSED", "notify does not send credentials in URLs");
      const body = JSON.stringify(payload);
      const bytes = Buffer.byteLength(body);
      if (bytes > MAX_NOTIFY_BYTES) {
        throw new ToolError("INVALID_ARGUMENTS", `payload is ${bytes} bytes of JSON; the limit is ${MAX_NOTIFY_BYTES}`);
      }
      const idempotencyKey = ctx.idempotencyKey ?? randomUUID();
      let response: Response;
      try {
        response = await fetch(target, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "idempotency-key": idempotencyKey,
            "user-agent": userAgent,
            "baton-task-id": ctx.taskId,
            "baton-step-id": ctx.stepId,
          },
          body,
          redirect: "manual",
          signal: ctx.signal,
        });
      } catch (error) {
        if (ctx.signal.aborted) throw error;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new ToolError(
          "TOOL_FAILED",
          `notify could not reach ${target.origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
          {
            retryable: true,
          },
        );
      }
      const text = (await response.text().catch(() => "")).slice(0, MAX_RESPONSE_CHARS);
      options.logger?.info({ taskId: ctx.taskId, stepId: ctx.stepId, origin: target.origin, status: response.status }, "notification sent");
      if (response.status >= 300 && response.status < 400) {
        throw new ToolError("TOOL_FAILED", `${target.origin} answered ${response.status} (a redirect); notify does not follow redirects`);
      }
      if (!response.ok) {
        const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
        throw new ToolError("TOOL_FAILED", `${target.origin} answered ${response.status} ${response.statusText}`.trim(), { retryable });
      }
      return { delivered: true, status: response.status, idempotencyKey, response: text };
    },
  }) as Tool;
}
