import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { SpanKind, trace } from "@opentelemetry/api";
import type { z } from "zod";
import { encodeJson } from "./codec.ts";
import { failSpan, injectTraceHeaders } from "./tracing.ts";

const tracer = trace.getTracer("@baton/core");

/** Options of {@link publishMessage}. */
export interface PublishOptions {
  /** JetStream de-duplication id (`Nats-Msg-Id`): a repeat within the stream's duplicate window is dropped. */
  readonly msgId?: string;
  /** Low-cardinality subject template for the span name, e.g. `work.research.{taskId}.{stepId}`. */
  readonly template?: string;
  /** Extra headers (trace context headers are added automatically). */
  readonly headers?: Record<string, string>;
}

/**
 * Validates `value` against `schema`, then publishes it as JSON to a JetStream subject and waits
 * for the stream's ack. A PRODUCER span `send <template>` (OTel messaging semantic conventions)
 * wraps the publish, and its W3C trace context travels in the message headers.
 * @throws ValidationError for an invalid message; the client's errors when no stream acks.
 */
export async function publishMessage<S extends z.ZodType>(
  js: JetStreamClient,
  subject: string,
  schema: S,
  value: z.input<S>,
  options: PublishOptions = {},
): Promise<PubAck> {
  const data = encodeJson(schema, value);
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
      const ack = await js.publish(subject, data, { headers: hdrs, ...(options.msgId ? { msgID: options.msgId } : {}) });
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
