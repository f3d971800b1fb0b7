import {
  type ChangedTicket,
  type CreatedTicket,
  type NewTicket,
  PRIORITIES,
  type Priority,
  STATUSES,
  type Ticket,
  type TicketChanges,
  type TicketFilter,
  type TicketStatus,
  type TicketStore,
  TicketStoreError,
  type TicketWrite,
  type WriteAction,
} from "./types.ts";

/**
 * What one write transaction can do; each backend implements it with its SQL dialect. Every
 * method runs inside the transaction {@link SqlTicketStore.transaction} opened.
 */
export interface TicketTx {
  /**
   * Inserts the key into `ticket_writes` (UNIQUE); false when it is already there. A key held by
   * a transaction still open elsewhere is waited for (PostgreSQL blocks on the unique index;
   * SQLite's write lock already serialises writers).
   */
  claimKey(key: string, action: WriteAction, at: string): Promise<boolean>;
  /** The stored action and result of a key. */
  storedWrite(key: string): Promise<{ action: string; result: unknown } | undefined>;
  /** Inserts an open ticket carrying `key` in its UNIQUE `idempotency_key` column. */
  insertTicket(input: NewTicket, key: string, at: string): Promise<Ticket>;
  /** Reads a ticket, locking its row for the rest of the transaction where the backend can. */
  selectTicket(id: number): Promise<Ticket | undefined>;
  /** Writes every mutable field of `ticket` back. */
  saveTicket(ticket: Ticket): Promise<void>;
  /** Stores the write's result with its key. */
  finishWrite(key: string, ticketId: number, result: unknown): Promise<void>;
}

/** Most labels a ticket keeps. */
export const MAX_LABELS = 20;

/** Distinct, trimmed, non-empty labels in first-seen order. */
export function normalizeLabels(labels: readonly string[]): string[] {
  return [...new Set(labels.map((l) => l.trim()).filter((l) => l.length > 0))].slice(0, MAX_LABELS);
}

/** A database row of `tickets` as both backends return it (timestamps as text or Date, labels as JSON text or array). */
export interface TicketRow {
  id: number | string;
  title: string;
  body: string;
  priority: string;
  labels: unknown;
  status: string;
  resolution: string | null;
  created_at: unknown;
  updated_at: unknown;
  closed_at: unknown;
}

/** The column list every `SELECT` of a ticket uses. */
export const TICKET_COLUMNS = "id, title, body, priority, labels, status, resolution, created_at, updated_at, closed_at";

/** Maps a row to a {@link Ticket}. @throws TicketStoreError `FAILED` for a row this agent could not have written. */
export function rowToTicket(row: TicketRow): Ticket {
  const labels = typeof row.labels === "string" ? (JSON.parse(row.labels) as unknown) : row.labels;
  if (!PRIORITIES.includes(row.priority as Priority) || !STATUSES.includes(row.status as TicketStatus) || !Array.isArray(labels)) {
    throw new TicketStoreError("FAILED", `ticket ${row.id} has an invalid row (priority, status or labels)`);
  }
  return {
    id: Number(row.id),
    title: row.title,
    body: row.body,
    priority: row.priority as Priority,
    labels: labels.map(String),
    status: row.status as TicketStatus,
    resolution: row.resolution,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
    closedAt: row.closed_at === null || row.closed_at === undefined ? null : toIso(row.closed_at),
  };
}

function toIso(value: unknown): string {
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/**
 * The write protocol both backends share: one transaction per write that claims the idempotency
 * key (UNIQUE), makes the change and stores its result with the key. A known key returns the
 * stored result (`repeated: true`) and changes nothing; a failed write rolls back, key included.
 */
export abstract class SqlTicketStore implements TicketStore {
  abstract readonly backend: "postgres" | "sqlite";
  abstract readonly location: string;

  /** Runs `fn` in one write transaction: committed when it resolves, rolled back when it throws. */
  protected abstract transaction<T>(fn: (tx: TicketTx) => Promise<T>): Promise<T>;
  abstract get(id: number): Promise<Ticket | undefined>;
  abstract list(filter: TicketFilter): Promise<Ticket[]>;
  abstract dispose(): Promise<void>;

  create(input: NewTicket, key: string): Promise<TicketWrite<CreatedTicket>> {
    return this.#write("create", key, async (tx, at) => {
      const ticket = await tx.insertTicket({ ...input, labels: normalizeLabels(input.labels) }, key, at);
      return { ticketId: ticket.id, result: { ticket } };
    });
  }

  update(id: number, changes: TicketChanges, key: string): Promise<TicketWrite<ChangedTicket>> {
    return this.#change("update", id, key, (before, at) => ({
      ...before,
      ...(changes.title !== undefined ? { title: changes.title } : {}),
      ...(changes.body !== undefined ? { body: changes.body } : {}),
      ...(changes.priority !== undefined ? { priority: changes.priority } : {}),
      ...(changes.labels !== undefined ? { labels: normalizeLabels(changes.labels) } : {}),
      updatedAt: at,
    }));
  }

  close(id: number, resolution: string, key: string): Promise<TicketWrite<ChangedTicket>> {
    return this.#change("close", id, key, (before, at) => {
      if (before.status === "closed")
        throw new TicketStoreError("CONFLICT", `ticket ${id} is already closed (${before.resolution ?? "no resolution"})`);
      return { ...before, status: "closed", resolution, closedAt: at, updatedAt: at };
    });
  }

  reopen(id: number, key: string): Promise<TicketWrite<ChangedTicket>> {
    return this.#change("reopen", id, key, (before, at) => {
      if (before.status === "open") throw new TicketStoreError("CONFLICT", `ticket ${id} is already open`);
      return { ...before, status: "open", resolution: null, closedAt: null, updatedAt: at };
    });
  }

  #change(
    action: WriteAction,
    id: number,
    key: string,
    apply: (before: Ticket, at: string) => Ticket,
  ): Promise<TicketWrite<ChangedTicket>> {
    return this.#write(action, key, async (tx, at) => {
      const before = await tx.selectTicket(id);
      if (!before) throw new TicketStoreError("NOT_FOUND", `no ticket ${id}`);
      const after = apply(before, at);
      await tx.saveTicket(after);
      return { ticketId: id, result: { before, after } };
    });
  }

  #write<T>(
    action: WriteAction,
    key: string,
    fn: (tx: TicketTx, at: string) => Promise<{ ticketId: number; result: T }>,
  ): Promise<TicketWrite<T>> {
    return this.transaction(async (tx) => {
      const at = new Date().toISOString();
      if (!(await tx.claimKey(key, action, at))) {
        const stored = await tx.storedWrite(key);
        if (!stored) throw new TicketStoreError("UNAVAILABLE", "the idempotency key is held by a write that has not finished; retry");
        if (stored.action !== action) {
          throw new TicketStoreError("KEY_REUSED", `the idempotency key was already used for a ticket ${stored.action}, not a ${action}`);
        }
        return { result: stored.result as T, repeated: true };
      }
      const { ticketId, result } = await fn(tx, at);
      await tx.finishWrite(key, ticketId, result);
      return { result, repeated: false };
    });
  }
}
