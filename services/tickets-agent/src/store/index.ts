import { join } from "node:path";
import type { Logger } from "@baton/core";
import { DEFAULT_TICKETS_DB_FILE, type TicketsAgentEnv } from "../config.ts";
import { PostgresTicketStore } from "./postgres.ts";
import { SqliteTicketStore } from "./sqlite.ts";
import type { TicketStore } from "./types.ts";

export { PG_VERSION, PostgresTicketStore, type PostgresStoreOptions } from "./postgres.ts";
export { SqliteTicketStore } from "./sqlite.ts";
export { MAX_LABELS, normalizeLabels } from "./sql-store.ts";
export * from "./types.ts";

/**
 * The store the environment asks for: PostgreSQL when `DATABASE_URL` is set (schema
 * `TICKETS_DB_SCHEMA`), else SQLite at `TICKETS_DB_PATH`. Logs which one, with the URL redacted.
 * @throws TicketStoreError when the database cannot be opened (message redacted).
 */
export async function openTicketStore(
  env: Pick<TicketsAgentEnv, "DATABASE_URL" | "TICKETS_DB_SCHEMA" | "TICKETS_DB_PATH"> & { readonly BATON_DATA_DIR: string },
  logger?: Logger,
): Promise<TicketStore> {
  const store = env.DATABASE_URL
    ? await PostgresTicketStore.open(env.DATABASE_URL, {
        schema: env.TICKETS_DB_SCHEMA,
        onPoolError: (message) => logger?.warn({ error: message }, "idle PostgreSQL connection failed"),
      })
    : SqliteTicketStore.open(env.TICKETS_DB_PATH ?? join(env.BATON_DATA_DIR, DEFAULT_TICKETS_DB_FILE));
  logger?.info({ backend: store.backend, location: store.location }, "tickets store ready");
  return store;
}
