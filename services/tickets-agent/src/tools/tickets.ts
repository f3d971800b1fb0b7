import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "@baton/core";
import { defineTool, type Tool, type ToolContext, ToolError } from "@baton/tools";
import { z } from "zod";
import {
  type ChangedTicket,
  type CreatedTicket,
  MAX_LABELS,
  PRIORITIES,
  STATUSES,
  type Ticket,
  type TicketStore,
  TicketStoreError,
  type TicketWrite,
} from "../store/index.ts";

/** Wall-clock limit of one write, in ms (a claim of a write cut off by a dead worker is repeated after this + 2 s). */
export const WRITE_TIMEOUT_MS = 10_000;
/** Wall-clock limit of one read, in ms. */
export const READ_TIMEOUT_MS = 5_000;
/** Resolution `close_ticket` records when none is given (also the saga compensation of `create_ticket`). */
export const DEFAULT_RESOLUTION = "withdrawn";

const TicketId = z.number().int().positive().max(2_147_483_647).describe("The ticket's id (a positive integer)");
const Title = z.string().trim().min(1).max(200).describe("A one-line summary, at most 200 characters");
const Body = z.string().max(20_000).describe("The details (plain text or Markdown), at most 20,000 characters");
const Priority = z.enum(PRIORITIES).describe("low, normal, high or urgent");
const Labels = z
  .array(z.string().trim().min(1).max(50))
  .max(MAX_LABELS)
  .describe(`Labels (at most ${MAX_LABELS}, each at most 50 characters); duplicates are dropped`);

/** Input of `create_ticket`. */
export const CreateTicketInput = z.object({
  title: Title,
  body: Body.default(""),
  priority: Priority.default("normal"),
  labels: Labels.default([]),
});

/** Input of `update_ticket`: the id and at least one field to change. */
export const UpdateTicketInput = z
  .object({ id: TicketId, title: Title.optional(), body: Body.optional(), priority: Priority.optional(), labels: Labels.optional() })
  .refine((a) => a.title !== undefined || a.body !== undefined || a.priority !== undefined || a.labels !== undefined, {
    message: "give at least one of title, body, priority, labels",
  });

/** Input of `close_ticket`. */
export const CloseTicketInput = z.object({
  id: TicketId,
  resolution: z
    .string()
    .trim()
    .min(1)
    .max(2_000)
    .default(DEFAULT_RESOLUTION)
    .describe(`Why it is closed, e.g. "fixed in 1.4.2"; default "${DEFAULT_RESOLUTION}"`),
});

/** Input of `reopen_ticket` and `get_ticket`. */
export const TicketIdInput = z.object({ id: TicketId });

/** Input of `list_tickets`. */
export const ListTicketsInput = z.object({
  status: z.enum(STATUSES).optional().describe("open or closed; default both"),
  priority: Priority.optional(),
  label: z.string().min(1).max(50).optional().describe("Only tickets with this label"),
  text: z.string().min(1).max(200).optional().describe("Only tickets whose title contains this (case-insensitive)"),
  limit: z.number().int().min(1).max(200).default(50).describe("Most tickets returned, newest first (default 50, max 200)"),
});

/** What the ticket tools are built from. */
export interface TicketToolsOptions {
  readonly store: TicketStore;
  /** The replica's logger: one line per write (never the ticket's content). */
  readonly logger?: Logger;
  /** TEST HOOK (`TICKETS_WRITE_DELAY_MS`): wait this long (ms) after a write is committed, before returning. Default 0. */
  readonly writeDelayMs?: number;
}

/**
 * The ticket tools over `store`: `create_ticket`, `update_ticket`, `close_ticket`,
 * `reopen_ticket` (writes: risk tier `write`, not idempotent, `usesIdempotencyKey`: the call's
 * idempotency key is stored with the write under a UNIQUE constraint, so a repeated call returns
 * the first call's result and never writes twice; each declares the saga compensation that undoes
 * it), and `get_ticket`, `list_tickets` (reads). Store failures become ToolErrors: a missing
 * ticket or a wrong state `TOOL_FAILED`, a key used for another action `TOOL_REFUSED`, an
 * unreachable or locked database `TOOL_FAILED` retryable.
 */
export function createTicketTools(options: TicketToolsOptions): Tool[] {
  const { store, logger } = options;
  const delayMs = options.writeDelayMs ?? 0;

  async function write<T>(
    ctx: ToolContext,
    action: string,
    run: (key: string) => Promise<TicketWrite<T>>,
    ticketOf: (r: T) => Ticket,
  ): Promise<T> {
    const key = ctx.idempotencyKey ?? randomUUID();
    const done = await run(key).catch((error: unknown) => {
      throw toToolError(error);
    });
    const ticket = ticketOf(done.result);
    const fields = { taskId: ctx.taskId, stepId: ctx.stepId, action, ticketId: ticket.id, repeated: done.repeated };
    if (done.repeated) logger?.info(fields, "ticket write repeated: its idempotency key was known, the stored result is returned");
    else logger?.info(fields, `ticket ${action} written`);
    if (delayMs > 0) {
      logger?.warn({ delayMs, ticketId: ticket.id }, "TICKETS_WRITE_DELAY_MS: test hook, waiting after the write");
      await sleep(delayMs, undefined, { signal: ctx.signal });
    }
    return done.result;
  }

  const createTicket = defineTool({
    name: "create_ticket",
    description:
      "Files a new ticket (status open) in the ticket database and returns it as { ticket: { id, title, body, priority, labels, status, resolution, createdAt, updatedAt, closedAt } }. " +
      "Use it to record an issue found by an earlier step; pass the facts in title and body. Repeating the same call returns the same ticket (never a duplicate).",
    input: CreateTicketInput,
    timeoutMs: WRITE_TIMEOUT_MS,
    riskTier: "write",
    idempotent: false,
    usesIdempotencyKey: true,
    display: { format: "json", path: "/ticket" },
    compensation: { tool: "close_ticket", args: { id: "/ticket/id" } },
    execute: (args, ctx) =>
      write<CreatedTicket>(
        ctx,
        "create",
        (key) => store.create(args, key),
        (r) => r.ticket,
      ),
  });

  const updateTicket = defineTool({
    name: "update_ticket",
    description:
      "Changes the title, body, priority and/or labels of a ticket (labels replace the old list) and returns { before, after }: the whole ticket before and after the change.",
    input: UpdateTicketInput,
    timeoutMs: WRITE_TIMEOUT_MS,
    riskTier: "write",
    idempotent: false,
    usesIdempotencyKey: true,
    display: { format: "json", path: "/after" },
    compensation: {
      tool: "update_ticket",
      args: { id: "/before/id", title: "/before/title", body: "/before/body", priority: "/before/priority", labels: "/before/labels" },
    },
    execute: ({ id, ...changes }, ctx) =>
      write<ChangedTicket>(
        ctx,
        "update",
        (key) => store.update(id, changes, key),
        (r) => r.after,
      ),
  });

  const closeTicket = defineTool({
    name: "close_ticket",
    description: `Closes an open ticket with a resolution (default "${DEFAULT_RESOLUTION}") and returns { before, after }. Fails for a ticket that is already closed.`,
    input: CloseTicketInput,
    timeoutMs: WRITE_TIMEOUT_MS,
    riskTier: "write",
    idempotent: false,
    usesIdempotencyKey: true,
    display: { format: "json", path: "/after" },
    compensation: { tool: "reopen_ticket", args: { id: "/after/id" } },
    execute: ({ id, resolution }, ctx) =>
      write<ChangedTicket>(
        ctx,
        "close",
        (key) => store.close(id, resolution, key),
        (r) => r.after,
      ),
  });

  const reopenTicket = defineTool({
    name: "reopen_ticket",
    description: "Reopens a closed ticket (clears its resolution) and returns { before, after }. Fails for a ticket that is open.",
    input: TicketIdInput,
    timeoutMs: WRITE_TIMEOUT_MS,
    riskTier: "write",
    idempotent: false,
    usesIdempotencyKey: true,
    display: { format: "json", path: "/after" },
    compensation: { tool: "close_ticket", args: { id: "/before/id", resolution: "/before/resolution" } },
    execute: ({ id }, ctx) =>
      write<ChangedTicket>(
        ctx,
        "reopen",
        (key) => store.reopen(id, key),
        (r) => r.after,
      ),
  });

  const getTicket = defineTool({
    name: "get_ticket",
    description: "Reads one ticket by id: { ticket }. Fails when there is no such ticket.",
    input: TicketIdInput,
    timeoutMs: READ_TIMEOUT_MS,
    riskTier: "read",
    idempotent: true,
    display: { format: "json", path: "/ticket" },
    async execute({ id }) {
      const ticket = await store.get(id).catch((error: unknown) => {
        throw toToolError(error);
      });
      if (!ticket) throw new ToolError("TOOL_FAILED", `no ticket ${id}`);
      return { ticket };
    },
  });

  const listTickets = defineTool({
    name: "list_tickets",
    description:
      "Lists tickets, newest first, optionally only those with a status, priority, label or title text: { tickets: [...], count }.",
    input: ListTicketsInput,
    timeoutMs: READ_TIMEOUT_MS,
    riskTier: "read",
    idempotent: true,
    display: { format: "table", path: "/tickets" },
    async execute(args) {
      const tickets = await store.list(args).catch((error: unknown) => {
        throw toToolError(error);
      });
      return { tickets, count: tickets.length };
    },
  });

  return [createTicket, updateTicket, closeTicket, reopenTicket, getTicket, listTickets] as Tool[];
}

/** A store failure as the ToolError the step reports. */
export function toToolError(error: unknown): unknown {
  if (!(error instanceof TicketStoreError)) return error;
  switch (error.code) {
    case "KEY_REUSED":
      return new ToolError("TOOL_REFUSED", error.message, { cause: error });
    case "UNAVAILABLE":
      return new ToolError("TOOL_FAILED", error.message, { cause: error, retryable: true });
    default:
      return new ToolError("TOOL_FAILED", error.message, { cause: error, retryable: error.retryable });
  }
}
