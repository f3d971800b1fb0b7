/** @baton/tickets-agent — a side-effecting agent: tickets in PostgreSQL or SQLite, and webhook notifications. */
import { defineAgent } from "@baton/agent";
import pkg from "../package.json" with { type: "json" };
import { TicketsAgentEnv } from "./config.ts";
import { openTicketStore } from "./store/index.ts";
import { createNotifyTool, createTicketTools } from "./tools/index.ts";

export { AllowedOrigins, DEFAULT_TICKETS_DB_FILE, TicketsAgentEnv } from "./config.ts";
export { databaseUrlSecrets, redactDatabaseUrl, scrub } from "./redact.ts";
export * from "./store/index.ts";
export * from "./tools/index.ts";

/**
 * The `tickets` agent: opens its store once per replica (PostgreSQL when DATABASE_URL is set,
 * else SQLite at TICKETS_DB_PATH; closed on shutdown) and exposes the ticket tools and `notify`.
 */
export const ticketsAgent = defineAgent({
  name: "tickets",
  version: pkg.version,
  description:
    "Files and manages tickets in a ticket database, and sends webhook notifications. Tools: create_ticket, update_ticket, " +
    "close_ticket, reopen_ticket (writes; each is undone by the saga if the task fails later), get_ticket, list_tickets (reads), " +
    "and notify (POSTs JSON to an allowed webhook). Use it to act on findings of other agents: file a ticket per problem found, " +
    "pass facts from earlier steps into title and body. It cannot query datasets or browse.",
  env: TicketsAgentEnv,
  async tools(env, { logger }) {
    const store = await openTicketStore(env, logger);
    if (env.TICKETS_WRITE_DELAY_MS > 0) logger.warn({ delayMs: env.TICKETS_WRITE_DELAY_MS }, "TICKETS_WRITE_DELAY_MS is set (a test hook)");
    const tools = [
      ...createTicketTools({ store, logger, writeDelayMs: env.TICKETS_WRITE_DELAY_MS }),
      createNotifyTool({ allowedOrigins: env.NOTIFY_ALLOWED_ORIGINS, logger, userAgent: `baton-tickets-agent/${pkg.version}` }),
    ];
    return { tools, close: () => store.dispose() };
  },
});
