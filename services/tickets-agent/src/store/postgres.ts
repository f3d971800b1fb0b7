import { PG_SCHEMA_NAME } from "../config.ts";
import { databaseUrlSecrets, redactDatabaseUrl, scrub } from "../redact.ts";
import { SqlTicketStore, TICKET_COLUMNS, type TicketRow, type TicketTx, rowToTicket } from "./sql-store.ts";
import { type NewTicket, type Ticket, type TicketFilter, TicketStoreError, type WriteAction } from "./types.ts";

/** The version of the `pg` package this store is written and tested against. */
export const PG_VERSION = "8.23.1";

/** The part of a `pg` query result this store reads. */
interface PgResult<R> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

/** The part of a `pg` client (`PoolClient`) this store uses. */
interface PgClient {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  release(error?: Error | boolean): void;
}

/** The part of a `pg` `Pool` this store uses. */
interface PgPool {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<PgResult<R>>;
  connect(): Promise<PgClient>;
  end(): Promise<void>;
  on(event: "error", listener: (error: Error) => void): unknown;
}

/** The `pg` module's constructor of pools. */
type PgPoolConstructor = new (config: Record<string, unknown>) => PgPool;

/** Options of {@link PostgresTicketStore.open}. */
export interface PostgresStoreOptions {
  /** Schema of the agent's tables, created when missing; must match {@link PG_SCHEMA_NAME}. Default `public`. */
  readonly schema?: string;
  /** Most connections of the pool; default 4. */
  readonly maxConnections?: number;
  /** Called with an already redacted message when an idle pooled connection fails. */
  readonly onPoolError?: (message: string) => void;
}

/** Loads `pg` on first use, so that the SQLite mode runs without it. */
async function loadPg(): Promise<PgPoolConstructor> {
  // A variable specifier: `pg` is only needed (and only resolved) when DATABASE_URL is set.
  const specifier: string = "pg";
  let mod: { default?: { Pool?: PgPoolConstructor }; Pool?: PgPoolConstructor };
  try {
    mod = (await import(specifier)) as typeof mod;
  } catch (error) {
    throw new TicketStoreError(
      "FAILED",
      `DATABASE_URL is set, but the PostgreSQL client "pg" is not installed (npm install pg@${PG_VERSION}): ${(error as Error).message}`,
      { cause: error },
    );
  }
  const Pool = mod.default?.Pool ?? mod.Pool;
  if (!Pool) throw new TicketStoreError("FAILED", 'the "pg" module has no Pool export');
  return Pool;
}

/**
 * Tickets in PostgreSQL through `pg` (a pool of up to 4 connections). Tables `tickets` and
 * `ticket_writes` in the configured schema, created at open under an advisory lock (replicas
 * starting together do not race). Writes run in READ COMMITTED transactions; a second write
 * with the same idempotency key waits on the unique index for the first to commit, then returns
 * its stored result. The connection string never appears in errors or logs: `location` is
 * redacted and every error message is scrubbed of it and its password.
 */
export class PostgresTicketStore extends SqlTicketStore {
  readonly backend = "postgres" as const;
  readonly location: string;
  readonly #pool: PgPool;
  readonly #secrets: readonly string[];
  readonly #tickets: string;
  readonly #writes: string;
  #disposed = false;

  private constructor(pool: PgPool, location: string, secrets: readonly string[], schema: string) {
    super();
    this.#pool = pool;
    this.location = location;
    this.#secrets = secrets;
    this.#tickets = `"${schema}".tickets`;
    this.#writes = `"${schema}".ticket_writes`;
  }

  /**
   * Connects to `url` (postgres:// or postgresql://), creates the schema and tables when missing
   * and checks the connection.
   * @throws TicketStoreError `FAILED` for a URL that is not a PostgreSQL URL, an invalid schema
   *   name, or `pg` missing; `UNAVAILABLE` when the server cannot be reached (messages redacted).
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresTicketStore> {
    const schema = options.schema ?? "public";
    if (!PG_SCHEMA_NAME.test(schema)) throw new TicketStoreError("FAILED", `invalid schema name "${schema}"`);
    const location = redactDatabaseUrl(url);
    let protocol = "";
    try {
      protocol = new URL(url).protocol;
    } catch {
      // reported below without echoing the value
    }
    if (protocol !== "postgres:" && protocol !== "postgresql:") {
      throw new TicketStoreError("FAILED", `DATABASE_URL must be a postgres:// or postgresql:// URL (got ${location})`);
    }
    const secrets = databaseUrlSecrets(url);
    const Pool = await loadPg();
    const pool = new Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      application_name: "baton-tickets-agent",
    });
    pool.on("error", (error) => options.onPoolError?.(scrub(error.message, secrets)));
    const store = new PostgresTicketStore(pool, location, secrets, schema);
    try {
      await store.#migrate(schema);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw store.#mapError(error, `could not prepare the tickets tables in ${location}`);
    }
    return store;
  }

  async #migrate(schema: string): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      // One replica at a time: concurrent CREATE … IF NOT EXISTS can still collide in the catalog.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('baton_tickets_schema'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#tickets} (
        id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        title text NOT NULL,
        body text NOT NULL,
        priority text NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        labels jsonb NOT NULL DEFAULT '[]'::jsonb,
        status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
        resolution text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        closed_at timestamptz,
        idempotency_key text UNIQUE
      )`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${this.#writes} (
        idempotency_key text PRIMARY KEY,
        action text NOT NULL,
        ticket_id integer,
        result jsonb,
        created_at timestamptz NOT NULL
      )`);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  protected async transaction<T>(fn: (tx: TicketTx) => Promise<T>): Promise<T> {
    let client: PgClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#mapError(error, "tickets database unreachable");
    }
    let broken = false;
    try {
      await client.query("BEGIN");
      const result = await fn(this.#txFor(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      throw this.#mapError(error, "tickets database error");
    } finally {
      client.release(broken);
    }
  }

  async get(id: number): Promise<Ticket | undefined> {
    const row = (await this.#query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM ${this.#tickets} WHERE id = $1`, [id])).rows[0];
    return row ? rowToTicket(row) : undefined;
  }

  async list(filter: TicketFilter): Promise<Ticket[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.status) add((n) => `status = ${n}`, filter.status);
    if (filter.priority) add((n) => `priority = ${n}`, filter.priority);
    if (filter.label) add((n) => `labels @> jsonb_build_array(${n}::text)`, filter.label);
    if (filter.text) add((n) => `position(lower(${n}::text) in lower(title)) > 0`, filter.text);
    params.push(filter.limit);
    const sql = `SELECT ${TICKET_COLUMNS} FROM ${this.#tickets}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT $${params.length}`;
    return (await this.#query<TicketRow>(sql, params)).rows.map(rowToTicket);
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#pool.end();
  }

  #txFor(client: PgClient): TicketTx {
    return {
      claimKey: async (key: string, action: WriteAction, at: string) => {
        const inserted = await client.query(
          `INSERT INTO ${this.#writes} (idempotency_key, action, created_at) VALUES ($1, $2, $3) ON CONFLICT (idempotency_key) DO NOTHING`,
          [key, action, at],
        );
        return inserted.rowCount === 1;
      },
      storedWrite: async (key: string) => {
        const row = (
          await client.query<{ action: string; result: unknown }>(`SELECT action, result FROM ${this.#writes} WHERE idempotency_key = $1`, [
            key,
          ])
        ).rows[0];
        return row && row.result !== null ? { action: row.action, result: row.result } : undefined;
      },
      insertTicket: async (input: NewTicket, key: string, at: string) => {
        const row = (
          await client.query<TicketRow>(
            `INSERT INTO ${this.#tickets} (title, body, priority, labels, status, created_at, updated_at, idempotency_key)
             VALUES ($1, $2, $3, $4::jsonb, 'open', $5, $5, $6) RETURNING ${TICKET_COLUMNS}`,
            [input.title, input.body, input.priority, JSON.stringify(input.labels), at, key],
          )
        ).rows[0];
        if (!row) throw new TicketStoreError("FAILED", "the new ticket was not returned");
        return rowToTicket(row);
      },
      selectTicket: async (id: number) => {
        const row = (await client.query<TicketRow>(`SELECT ${TICKET_COLUMNS} FROM ${this.#tickets} WHERE id = $1 FOR UPDATE`, [id]))
          .rows[0];
        return row ? rowToTicket(row) : undefined;
      },
      saveTicket: async (t: Ticket) => {
        await client.query(
          `UPDATE ${this.#tickets} SET title = $1, body = $2, priority = $3, labels = $4::jsonb, status = $5, resolution = $6,
             updated_at = $7, closed_at = $8 WHERE id = $9`,
          [t.title, t.body, t.priority, JSON.stringify(t.labels), t.status, t.resolution, t.updatedAt, t.closedAt, t.id],
        );
      },
      finishWrite: async (key: string, ticketId: number, result: unknown) => {
        await client.query(`UPDATE ${this.#writes} SET ticket_id = $1, result = $2::jsonb WHERE idempotency_key = $3`, [
          ticketId,
          JSON.stringify(result),
          key,
        ]);
      },
    };
  }

  async #query<R>(sql: string, params: unknown[]): Promise<PgResult<R>> {
    try {
      return await this.#pool.query<R>(sql, params);
    } catch (error) {
      throw this.#mapError(error, "tickets database error");
    }
  }

  /**
   * PostgreSQL and connection errors as {@link TicketStoreError}s, scrubbed of the connection
   * string: connection failures, serialization failures, deadlocks and too many connections are
   * `UNAVAILABLE` (retryable), the rest `FAILED`.
   */
  #mapError(error: unknown, context: string): TicketStoreError {
    if (error instanceof TicketStoreError) return error;
    const rawCode = (error as { code?: unknown }).code;
    const code = typeof rawCode === "string" ? rawCode : "";
    const message = scrub(error instanceof Error ? error.message : String(error), this.#secrets);
    const transient =
      /^(08|53|57P0)/.test(code) ||
      ["40001", "40P01", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE"].includes(code) ||
      /timeout|terminated|Connection terminated/i.test(message);
    // The cause is dropped: pg errors can carry the connection parameters.
    return new TicketStoreError(transient ? "UNAVAILABLE" : "FAILED", `${context}: ${message}${code ? ` (${code})` : ""}`);
  }
}
