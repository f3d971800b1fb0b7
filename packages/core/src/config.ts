import { z } from "zod";
import { ConfigError } from "./errors.ts";

/** Reads a boolean environment variable: `true`/`1`/`yes` or `false`/`0`/`no` (case-insensitive). */
export const envBoolean = z
  .enum(["true", "false", "1", "0", "yes", "no", "TRUE", "FALSE", "YES", "NO"])
  .transform((v) => ["true", "1", "yes"].includes(v.toLowerCase()));

/** Reads a positive integer environment variable (e.g. a duration in ms or a size in bytes). */
export const envPositiveInt = z.coerce.number().int().positive();

/**
 * Settings every Baton service reads from its environment. Service schemas extend this.
 * - `NATS_URL`: comma-separated server URLs; default `nats://127.0.0.1:4222`.
 * - `NATS_CREDS`: path of the service's NATS credentials file (`.creds`, from `baton auth`);
 *   unset = connect without credentials (a server with authentication refuses that).
 * - `LOG_LEVEL`: pino level; default `info`. `LOG_PRETTY`: human-readable logs; default false.
 * - `LOG_PAYLOADS`: include prompts and tool payloads in logs and spans; default false.
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: OTLP/HTTP base URL (e.g. `http://localhost:4318`); unset = no export.
 * - `SHUTDOWN_GRACE_MS`: how long SIGTERM waits for in-flight work; default 10,000 ms.
 */
export const BaseServiceEnv = z.object({
  NATS_URL: z.string().min(1).default("nats://127.0.0.1:4222"),
  NATS_CREDS: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  LOG_PRETTY: envBoolean.default(false),
  LOG_PAYLOADS: envBoolean.default(false),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  SERVICE_INSTANCE_ID: z.string().min(1).optional(),
  SHUTDOWN_GRACE_MS: envPositiveInt.default(10_000),
});
export type BaseServiceEnv = z.infer<typeof BaseServiceEnv>;

/**
 * Parses a service's environment once, at start-up.
 * @throws ConfigError listing every bad variable, its value's problem and the expected form.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  // Empty strings count as unset, so `FOO=` in a shell falls back to the default.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => {
    const name = i.path.join(".") || "(environment)";
    const value = typeof i.path[0] === "string" ? cleaned[i.path[0]] : undefined;
    return `  ${name}${value === undefined ? "" : `=${JSON.stringify(value)}`}: ${i.message}`;
  });
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
