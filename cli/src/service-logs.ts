import { styleText } from "node:util";

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const LEVEL_STYLE: Record<string, Parameters<typeof styleText>[0]> = {
  TRACE: "gray",
  DEBUG: "gray",
  INFO: "green",
  WARN: "yellow",
  ERROR: "red",
  FATAL: "red",
};
/** Fields shown after the message, in this order, when present. */
const SHOWN_FIELDS = ["taskId", "stepId", "attempt", "code", "durationMs", "tools", "reason"] as const;

/** A parsed pino JSON log line: numeric `level`, `msg`, optional `taskId` / `stepId` / `err`. */
export interface PinoLine {
  readonly level?: number;
  readonly msg?: string;
  readonly time?: string;
  readonly [key: string]: unknown;
}

/** Parses a pino JSON line; undefined when the line is not a JSON object. */
export function parsePinoLine(line: string): PinoLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as PinoLine) : undefined;
  } catch {
    return undefined;
  }
}

/** Options of {@link formatServiceLog}. */
export interface ServiceLogFormat {
  /** Print the raw line after the prefix instead of `LEVEL msg key=value`. */
  readonly raw?: boolean;
  /** Width the service name is padded to; default 15. */
  readonly nameWidth?: number;
  /** Colour for this stream (TTY + NO_COLOR unset); default process.stdout. */
  readonly stream?: NodeJS.WriteStream;
}

/**
 * Formats one output line of a service for `baton up`: `<service> | INFO  task accepted
 * taskId=… stepId=…` (level, message, then the task-related fields and an error message when
 * present). Non-JSON lines (and every line with `raw`) are shown as they are after the prefix.
 */
export function formatServiceLog(service: string, line: string, options: ServiceLogFormat = {}): string {
  const stream = options.stream ?? process.stdout;
  const prefix = `${styleText("cyan", service.padEnd(options.nameWidth ?? 15), { stream })}|`;
  const parsed = options.raw ? undefined : parsePinoLine(line);
  if (!parsed) return `${prefix} ${line}`;
  const level = LEVELS[parsed.level ?? 30] ?? String(parsed.level);
  const fields = SHOWN_FIELDS.filter((k) => parsed[k] !== undefined && parsed[k] !== null).map(
    (k) => `${k}=${typeof parsed[k] === "string" ? parsed[k] : JSON.stringify(parsed[k])}`,
  );
  const err = parsed.err as { message?: string; type?: string } | undefined;
  if (err?.message) fields.push(`err="${err.type ? `${err.type}: ` : ""}${err.message}"`);
  return `${prefix} ${styleText(LEVEL_STYLE[level] ?? "white", level.padEnd(5), { stream })} ${parsed.msg ?? ""}${fields.length ? `  ${styleText("gray", fields.join(" "), { stream })}` : ""}`;
}

/** The `msg` of a pino JSON line, or undefined for any other line. */
export function logMessage(line: string): string | undefined {
  const msg = parsePinoLine(line)?.msg;
  return typeof msg === "string" ? msg : undefined;
}
