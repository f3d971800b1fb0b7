import { z } from "zod";

/** The embedded SQLite database's file name, in the agent's data folder (`BATON_DATA_DIR`, default `.baton`). */
export const DEFAULT_TICKETS_DB_FILE = "tickets.db";

/** A PostgreSQL schema name this agent accepts: lower case, unquoted-safe, at most 63 characters. */
export const PG_SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `NOTIFY_ALLOWED_ORIGINS`: comma-separated origins (`scheme://host[:port]`, http or https) that
 * `notify` may POST to; anything else in a URL (a path) is refused, so the list names origins
 * only. Parsed to normalised origins (`new URL(x).origin`); empty or unset = none (notify refuses).
 */
export const AllowedOrigins = z
  .string()
  .default("")
  .transform((value, ctx) => {
    const origins: string[] = [];
    for (const raw of value.split(",")) {
      const entry = raw.trim();
      if (entry === "") continue;
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        ctx.addIssue({ code: "custom", message: `"${entry}" is not an origin such as https://hooks.example.com` });
        return z.NEVER;
      }
      if (
        (url.protocol !== "http:" && url.protocol !== "https:") ||
        (url.pathname !== "/" && url.pathname !== "") ||
        url.search ||
        url.hash
      ) {
        ctx.addIssue({
          code: "custom",
          message: `"${entry}" must be an http(s) origin without a path, e.g. https://hooks.example.com:8443`,
        });
        return z.NEVER;
      }
      if (url.username || url.password) {
        ctx.addIssue({ code: "custom", message: "an allowed origin must not carry credentials" });
        return z.NEVER;
      }
      origins.push(url.origin);
    }
    return [...new Set(origins)];
  });

/**
 * The tickets agent's own environment (read together with the worker settings of @baton/agent).
 * - `DATABASE_URL`: a PostgreSQL connection string (`postgres://user:password@host:5432/db`);
 *   when set, tickets live in PostgreSQL (through `pg`), else in the embedded SQLite database.
 *   It may hold a password: it is never logged nor put in errors (see `redactDatabaseUrl`), and
 *   is checked by the store, not here, so a configuration error never prints it.
 * - `TICKETS_DB_SCHEMA`: the PostgreSQL schema of the agent's tables (created when missing);
 *   default `public`.
 * - `TICKETS_DB_PATH`: the SQLite database file when `DATABASE_URL` is unset; default
 *   `tickets.db` in the agent's data folder (`BATON_DATA_DIR`; its folder is created); `:memory:` keeps
 *   the tickets in the process (lost on exit, not shared by replicas).
 * - `NOTIFY_ALLOWED_ORIGINS`: see {@link AllowedOrigins}; default none.
 * - `TICKETS_WRITE_DELAY_MS`: TEST HOOK, default 0: after a write is committed, wait this long
 *   (ms) before returning, so a test can kill the worker between the write and its result.
 */
export const TicketsAgentEnv = z.object({
  DATABASE_URL: z.string().optional(),
  TICKETS_DB_SCHEMA: z
    .string()
    .regex(PG_SCHEMA_NAME, "a lower-case schema name: a-z, 0-9, _ (not first a digit), at most 63")
    .default("public"),
  TICKETS_DB_PATH: z.string().min(1).optional(),
  NOTIFY_ALLOWED_ORIGINS: AllowedOrigins,
  TICKETS_WRITE_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(0),
});
export type TicketsAgentEnv = z.output<typeof TicketsAgentEnv>;
