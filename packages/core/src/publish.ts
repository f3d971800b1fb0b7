import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { SpanKind, trace } from "@opentelemetry/api";
import type { z } from "zod";
import { encodeJson } from "./codec.ts";
import { connectionOf, connectionWatch, retryWhileUnavailable } from "./nats.ts";
import { failSpan, injectTraceHeaders } from "./tracing.ts";

const tracer = trace.getTracer("@baton/core");
const encoder = new TextEncoder();

/** How long a publish waits for a lost connection to come back before it is sent anyway (and times out), in ms. */
const CONNECT_WAIT_MS = 10_000;
/** Default {@link PublishOptions.retryForMs} of a publish with a `msgId`, in ms. */
const DEFAULT_RETRY_MS = 10_000;

/** Options of {@link publishMessage}. */
export interface PublishOptions {
  /** JetStream de-duplication id (`Nats-Msg-Id`): a repeat within the stream's duplicate window is dropped. */
  readonly msgId?: string;
  /** Low-cardinality subject template for the span name, e.g. `work.research.{taskId}.{stepId}`. */
  readonly template?: string;
  /** Extra headers (trace context headers are added automatically). */
  readonly headers?: Record<string, string>;
  /**
   * How long to publish again while the broker is unavailable (a request lost with a restarted
   * nats-server, no responders while JetStream recovers), in ms; default 10,000 with `msgId`
   * (the stream drops the repeat of a publish that did land), 0 without (one attempt: a repeat
   * could store the message twice).
   */
  readonly retryForMs?: number;
  /**
   * Validate `value` against the schema before sending (default true). False sends it as it is:
   * only for messages built by typed code in this process whose receivers validate them (each
   * edge validated once, by its receiver) — e.g. task events, a dozen per task.
   */
  readonly validate?: boolean;
}

/**
 * Validates `value` against `schema`, then publishes it as JSON to a JetStream subject and waits
 * for the stream's ack. A PRODUCER span `send <template>` (OTel messaging semantic conventions)
 * wraps the publish, and its W3C trace context travels in the message headers.
 * While the connection is down (a nats-server restart), the publish waits up to 10 s for the
 * reconnect before it is sent (the client would drop it). With `msgId`, a publish the broker did
 * not answer is sent again (same `Nats-Msg-Id`) until it is acked or `retryForMs` (default 10 s)
 * has passed.
 * @throws ValidationError for an invalid message; TransientError when retries ran out; the
 *   client's errors when no stream acks.
 */
export async function publishMessage<S extends z.ZodType>(
  js: JetStreamClient,
  subject: string,
  schema: S,
  value: z.input<S>,
  options: PublishOptions = {},
): Promise<PubAck> {
  const data = options.validate === false ? encoder.encode(JSON.stringify(value)) : encodeJson(schema, value);
  const template = options.template ?? subject;
  return tracer.startActiveSpan(`send ${template}`, { kind: SpanKind.PRODUCER }, async (span) => {
    span.setAttributes({
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.operation.name": "publish",
      "messaging.destination.name": subject,
      "messaging.destination.template": template,
      "messaging.message.body.size": data.byteLength,
      ...(options.msgId ? { "messaging.message.id": options.msgId } : {}),
    });
    try {
      const hdrs = natsHeaders();
      for (const [k, v] of Object.entries(options.headers ?? {})) hdrs.set(k, v);
      injectTraceHeaders(hdrs);
      const send = () => js.publish(subject, data, { headers: hdrs, ...(options.msgId ? { msgID: options.msgId } : {}) });
      const retryForMs = options.msgId ? (options.retryForMs ?? DEFAULT_RETRY_MS) : 0;
      const nc = connectionOf(js);
      let ack: PubAck;
      if (retryForMs > 0) ack = await retryWhileUnavailable(send, { what: `publish on ${subject}`, forMs: retryForMs, nc });
      else {
        // What is published while disconnected is dropped by the client: wait for the reconnect first.
        if (nc) await connectionWatch(nc).whenConnected(CONNECT_WAIT_MS);
        ack = await send();
      }
      span.setAttribute("messaging.nats.stream.sequence", ack.seq);
      if (ack.duplicate) span.setAttribute("messaging.nats.duplicate", true);
      return ack;
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}
