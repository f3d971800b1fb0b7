import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { type Logger, pino } from "pino";

export type { Logger } from "pino";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  readonly service: string;
  readonly level?: string;
  /** Human-readable output through pino-pretty (opt-in; JSON otherwise). */
  readonly pretty?: boolean;
  /** Where to write; default stdout. */
  readonly destination?: NodeJS.WritableStream;
}

/** Paths never logged in clear: credentials in config objects, headers and URLs. */
const REDACT_PATHS = [
  "*.password",
  "*.apiKey",
  "*.token",
  "*.authorization",
  "*.ANTHROPIC_API_KEY",
  "*.OPENAI_API_KEY",
  "*.MONGODB_URI",
  "config.MONGODB_URI",
];

/**
 * A pino JSON logger whose every line carries `service` and, inside a span, `trace_id` and
 * `span_id` (OTel log correlation field names). Callers add `taskId` and `stepId` with
 * `logger.child({ taskId, stepId })`.
 */
export function createLogger(options: LoggerOptions): Logger {
  const config = {
    level: options.level ?? "info",
    base: { service: options.service, pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const span = trace.getSpan(context.active());
      const spanContext = span?.spanContext();
      if (!spanContext || !isSpanContextValid(spanContext)) return {};
      const { traceId, spanId } = spanContext;
      return { trace_id: traceId, span_id: spanId };
    },
  };
  if (options.pretty) {
    return pino({ ...config, transport: { target: "pino-pretty", options: { colorize: true } } });
  }
  return options.destination ? pino(config, options.destination) : pino(config);
}
