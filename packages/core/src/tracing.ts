import {
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import type { MsgHdrs } from "@nats-io/transport-node";
import type { Logger } from "pino";

/** Options of {@link initTracing}. */
export interface TracingOptions {
  readonly serviceName: string;
  readonly serviceInstanceId?: string;
  /** OTLP/HTTP base URL (spans go to `<endpoint>/v1/traces`); unset = spans are not recorded. */
  readonly endpoint?: string | undefined;
  readonly logger?: Logger;
}

/** Handle returned by {@link initTracing}. */
export interface Tracing {
  /** True when spans are recorded and exported. */
  readonly enabled: boolean;
  /** Flushes and stops the exporter. Never rejects: export failures are logged. */
  shutdown(): Promise<void>;
}

/**
 * Sets up OpenTelemetry for one process. W3C trace context propagation and async context
 * are always on (cheap), so trace ids flow through every hop and into logs. A tracer
 * provider with an OTLP/HTTP (JSON) exporter is registered only when `endpoint` is set;
 * otherwise the API stays a no-op and tracing costs nothing.
 */
export function initTracing(options: TracingOptions): Tracing {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  if (!options.endpoint) return { enabled: false, shutdown: async () => {} };
  const exporter = new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/$/, "")}/v1/traces` });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      "service.name": options.serviceName,
      "service.namespace": "baton",
      ...(options.serviceInstanceId ? { "service.instance.id": options.serviceInstanceId } : {}),
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 500, exportTimeoutMillis: 5_000 })],
  });
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    async shutdown() {
      // With the collector down, shutdown rejects after its export timeout; a service must
      // still exit cleanly, so the failure is logged and not rethrown.
      try {
        await provider.shutdown();
      } catch (error) {
        options.logger?.warn({ err: error }, "trace export failed at shutdown");
      }
    },
  };
}

const headerSetter: TextMapSetter<MsgHdrs> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
const headerGetter: TextMapGetter<MsgHdrs | undefined> = {
  keys: (carrier) => (carrier ? carrier.keys() : []),
  get: (carrier, key) => carrier?.get(key) || undefined,
};

/** Writes W3C `traceparent`/`tracestate` for `ctx` (default: active) into NATS headers. */
export function injectTraceHeaders(headers: MsgHdrs, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, headerSetter);
}

/** Reads the W3C trace context from NATS headers (an empty context when absent). */
export function extractTraceContext(headers: MsgHdrs | undefined): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}

/** The active context as W3C header values, for storing a trace parent in durable state. */
export function currentTraceCarrier(): { traceparent?: string; tracestate?: string } {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return {
    ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}

/** A context whose parent is the stored W3C `traceparent` (see {@link currentTraceCarrier}). */
export function contextFromCarrier(carrier: { traceparent?: string | undefined; tracestate?: string | undefined }): Context {
  const clean: Record<string, string> = {};
  if (carrier.traceparent) clean.traceparent = carrier.traceparent;
  if (carrier.tracestate) clean.tracestate = carrier.tracestate;
  return propagation.extract(context.active(), clean);
}

/** Ends `span` with an error status and the exception recorded. */
export function failSpan(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : new Error(String(error)));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

export { SpanKind };
