import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { SqlTicketStore, TICKET_COLUMNS, type TicketRow, type TicketTx, rowToTicket } from "./sql-store.ts";
import { type NewTicket, type Ticket, type TicketFilter, TicketStoreError, type WriteAction } from "./types.ts";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
  labels TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  resolution TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  closed_at TEXT,
  idempotency_key TEXT UNIQUE
);
CREATE TABLE IF NOT EXISTS ticket_writes (
  idempotency_key TEXT PRIMARY KEY,
  action TEXT NOT NULL,
  ticket_id INTEGER,
  result TEXT,
  created_at TEXT NOT NULL
);
`;

/** How long a writer waits for another process's write lock before `UNAVAILABLE`, in ms. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Tickets in the embedded SQLite of Node (`node:sqlite`, `DatabaseSync`). A file may be shared
 * by several processes on one host (WAL journal, `BEGIN IMMEDIATE` write transactions, a 5 s busy
 * timeout); `:memory:` keeps the tickets in this process. Calls are serialised in the process
 * (the API is synchronous and one connection has one transaction at a time).
 */
export class SqliteTicketStore extends SqlTicketStore {
  readonly backend = "sqlite" as const;
  readonly location: string;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(db: DatabaseSync, location: string) {
    super();
    this.#db = db;
    this.location = location;
  }

  /**
   * Opens (creating when missing, with its folder) the database at `path` and its tables;
   * `:memory:` for a private in-memory database.
   * @throws TicketStoreError `FAILED` when the file cannot be opened or is not a tickets database.
   */
  static open(path: string): SqliteTicketStore {
    const location = path === ":memory:" ? ":memory:" : resolve(path);
    try {
      if (location !== ":memory:") mkdirSync(dirname(location), { recursive: true });
      const db = new DatabaseSync(location);
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (location !== ":memory:") db.exec("PRAGMA journal_mode = WAL");
      db.exec(SCHEMA);
      return new SqliteTicketStore(db, location);
    } catch (error) {
      throw mapError(error, `could not open the tickets database ${location}`);
    }
  }

  protected transaction<T>(fn: (tx: TicketTx) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.#exec("BEGIN IMMEDIATE");
      try {
        const result = await fn(this.#tx);
        this.#exec("COMMIT");
        return result;
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
        throw error;
      }
    });
  }

  get(id: number): Promise<Ticket | undefined> {
    return this.#serial(async () => {
      const row = this.#all<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = ?`, [id])[0];
      return row ? rowToTicket(row) : undefined;
    });
  }

  list(filter: TicketFilter): Promise<Ticket[]> {
    return this.#serial(async () => {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      const add = (clause: string, value: SQLInputValue) => {
        where.push(clause);
        params.push(value);
      };
      if (filter.status) add("status = ?", filter.status);
      if (filter.priority) add("priority = ?", filter.priority);
      if (filter.label) add("EXISTS (SELECT 1 FROM json_each(tickets.labels) WHERE json_each.value = ?)", filter.label);
      if (filter.text) add("instr(lower(title), lower(?)) > 0", filter.text);
      params.push(filter.limit);
      const sql = `SELECT ${TICKET_COLUMNS} FROM tickets${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
      return this.#all<TicketRow>(sql, params).map(rowToTicket);
    });
  }

  async dispose(): Promise<void> {
    await this.#queue;
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }

  readonly #tx: TicketTx = {
    claimKey: async (key: string, action: WriteAction, at: string) =>
      this.#run("INSERT INTO ticket_writes (idempotency_key, action, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [
        key,
        action,
        at,
      ]) === 1,
    storedWrite: async (key: string) => {
      const row = this.#all<{ action: string; result: string | null }>(
        "SELECT action, result FROM ticket_writes WHERE idempotency_key = ?",
        [key],
      )[0];
      return row && row.result !== null ? { action: row.action, result: JSON.parse(row.result) as unknown } : undefined;
    },
    insertTicket: async (input: NewTicket, key: string, at: string) => {
      const row = this.#all<TicketRow>(
        `INSERT INTO tickets (title, body, priority, labels, status, created_at, updated_at, idempotency_key)
         VALUES (?, ?, ?, ?, 'open', ?, ?, ?) RETURNING ${TICKET_COLUMNS}`,
        [input.title, input.body, input.priority, JSON.stringify(input.labels), at, at, key],
      )[0];
      if (!row) throw new TicketStoreError("FAILED", "the new ticket was not returned");
      return rowToTicket(row);
    },
    selectTicket: async (id: number) => {
      const row = this.#all<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM tickets WHERE id = ?`, [id])[0];
      return row ? rowToTicket(row) : undefined;
    },
    saveTicket: async (t: Ticket) => {
      this.#run(
        "UPDATE tickets SET title = ?, body = ?, priority = ?, labels = ?, status = ?, resolution = ?, updated_at = ?, closed_at = ? WHERE id = ?",
        [t.title, t.body, t.priority, JSON.stringify(t.labels), t.status, t.resolution, t.updatedAt, t.closedAt, t.id],
      );
    },
    finishWrite: async (key: string, ticketId: number, result: unknown) => {
      this.#run("UPDATE ticket_writes SET ticket_id = ?, result = ? WHERE idempotency_key = ?", [ticketId, JSON.stringify(result), key]);
    },
  };

  /** Runs `fn` after every call before it (one transaction at a time on the one connection). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => {
      if (this.#closed) throw new TicketStoreError("FAILED", "the tickets database is closed");
      return fn();
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (error) {
      throw mapError(error, "tickets database error");
    }
  }

  #run(sql: string, params: SQLInputValue[]): number {
    try {
      return Number(this.#statement(sql).run(...params).changes);
    } catch (error) {
      throw mapError(error, "tickets database error");
    }
  }

  #all<R>(sql: string, params: SQLInputValue[]): R[] {
    try {
      return this.#statement(sql).all(...params) as R[];
    } catch (error) {
      throw mapError(error, "tickets database error");
    }
  }
}

/** SQLite errors: busy/locked (another process holds the write lock) is retryable, the rest is not. */
function mapError(error: unknown, context: string): TicketStoreError {
  if (error instanceof TicketStoreError) return error;
  const errcode = (error as { errcode?: unknown }).errcode;
  const message = error instanceof Error ? error.message : String(error);
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6), also as extended codes (low byte).
  if (typeof errcode === "number" && ((errcode & 0xff) === 5 || (errcode & 0xff) === 6)) {
    return new TicketStoreError("UNAVAILABLE", `${context}: the database is locked by another writer; retry (${message})`, {
      cause: error,
    });
  }
  return new TicketStoreError("FAILED", `${context}: ${message}`, { cause: error });
}
