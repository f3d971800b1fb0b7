/** Ticket priorities, least urgent first. */
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Ticket states. */
export const STATUSES = ["open", "closed"] as const;
export type TicketStatus = (typeof STATUSES)[number];

/** A ticket as the store returns it (the same JSON from both backends). */
export interface Ticket {
  /** Positive integer, assigned by the database. */
  readonly id: number;
  readonly title: string;
  readonly body: string;
  readonly priority: Priority;
  /** Distinct labels, in the order first given. */
  readonly labels: string[];
  readonly status: TicketStatus;
  /** Why it was closed; null while open. */
  readonly resolution: string | null;
  /** ISO 8601 timestamps (UTC, ms). */
  readonly createdAt: string;
  readonly updatedAt: string;
  /** When it was last closed; null while open. */
  readonly closedAt: string | null;
}

/** What a new ticket is made of. */
export interface NewTicket {
  readonly title: string;
  readonly body: string;
  readonly priority: Priority;
  readonly labels: readonly string[];
}

/** Fields `update` may change; absent = unchanged. */
export interface TicketChanges {
  readonly title?: string | undefined;
  readonly body?: string | undefined;
  readonly priority?: Priority | undefined;
  readonly labels?: readonly string[] | undefined;
}

/** Filters of `list`; every given filter must match. */
export interface TicketFilter {
  readonly status?: TicketStatus | undefined;
  readonly priority?: Priority | undefined;
  /** Tickets carrying this label (exact match). */
  readonly label?: string | undefined;
  /** Case-insensitive substring of the title. */
  readonly text?: string | undefined;
  /** Most tickets returned, newest (highest id) first. */
  readonly limit: number;
}

/** The output of creating a ticket. */
export interface CreatedTicket {
  readonly ticket: Ticket;
}

/** The output of changing a ticket: the whole ticket before and after, so the change can be undone. */
export interface ChangedTicket {
  readonly before: Ticket;
  readonly after: Ticket;
}

/** A write's result, and whether its idempotency key had been used before (then it is the first call's stored result). */
export interface TicketWrite<T> {
  readonly result: T;
  /** True when nothing was written: the key was known and its stored result returned. */
  readonly repeated: boolean;
}

/** The write actions, as stored with each idempotency key. */
export type WriteAction = "create" | "update" | "close" | "reopen";

/**
 * Why a store call failed:
 * - `NOT_FOUND`: no ticket with that id;
 * - `CONFLICT`: the ticket is not in a state the write applies to (closing a closed ticket);
 * - `KEY_REUSED`: the idempotency key was already used for another action;
 * - `UNAVAILABLE`: the database could not be reached or the write collided with another (retryable);
 * - `FAILED`: any other database error.
 */
export type TicketStoreErrorCode = "NOT_FOUND" | "CONFLICT" | "KEY_REUSED" | "UNAVAILABLE" | "FAILED";

/** A store failure; messages never contain the database URL or its password. */
export class TicketStoreError extends Error {
  override readonly name = "TicketStoreError";
  readonly code: TicketStoreErrorCode;
  readonly retryable: boolean;
  constructor(code: TicketStoreErrorCode, message: string, options?: { retryable?: boolean; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? code === "UNAVAILABLE";
  }
}

/**
 * Where tickets live: PostgreSQL ({@link PostgresTicketStore}) or the embedded SQLite
 * ({@link SqliteTicketStore}), with the same behaviour (one contract test suite runs against both).
 *
 * Every write takes an idempotency key, stored with a UNIQUE constraint in the same transaction
 * as the write and its result: a repeated key returns the first call's stored result
 * (`repeated: true`) and never writes again — not a second ticket row, not a second change. A
 * write that fails stores nothing, so its key may be used again.
 */
export interface TicketStore {
  /** `postgres` or `sqlite`. */
  readonly backend: "postgres" | "sqlite";
  /** Where the data is, safe to log (the PostgreSQL URL with its password replaced by `***`). */
  readonly location: string;
  /**
   * Creates a ticket (status open).
   * @throws TicketStoreError `KEY_REUSED`, `UNAVAILABLE`, `FAILED`.
   */
  create(input: NewTicket, key: string): Promise<TicketWrite<CreatedTicket>>;
  /**
   * Changes the given fields of a ticket.
   * @throws TicketStoreError `NOT_FOUND`, `KEY_REUSED`, `UNAVAILABLE`, `FAILED`.
   */
  update(id: number, changes: TicketChanges, key: string): Promise<TicketWrite<ChangedTicket>>;
  /**
   * Closes an open ticket with a resolution.
   * @throws TicketStoreError `NOT_FOUND`, `CONFLICT` (already closed), `KEY_REUSED`, `UNAVAILABLE`, `FAILED`.
   */
  close(id: number, resolution: string, key: string): Promise<TicketWrite<ChangedTicket>>;
  /**
   * Reopens a closed ticket (its resolution and closedAt are cleared).
   * @throws TicketStoreError `NOT_FOUND`, `CONFLICT` (already open), `KEY_REUSED`, `UNAVAILABLE`, `FAILED`.
   */
  reopen(id: number, key: string): Promise<TicketWrite<ChangedTicket>>;
  /** The ticket, or undefined. @throws TicketStoreError `UNAVAILABLE`, `FAILED`. */
  get(id: number): Promise<Ticket | undefined>;
  /** Tickets matching `filter`, newest first. @throws TicketStoreError `UNAVAILABLE`, `FAILED`. */
  list(filter: TicketFilter): Promise<Ticket[]>;
  /** Releases the connection(s). Later calls fail. */
  dispose(): Promise<void>;
}
