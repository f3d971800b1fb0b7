import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PG_VERSION, PostgresTicketStore, TicketStoreError } from "../../services/tickets-agent/src/index.ts";
import { describeTicketStoreContract } from "../support/tickets-store-contract.ts";

// The PostgreSQL backend against a real server. It does NOT skip: CI makes sure PostgreSQL is
// running (see services/tickets-agent/README.md, "Tests"). Point it elsewhere with
// TICKETS_TEST_DATABASE_URL. Every store gets its own schema, dropped afterwards.
const url = process.env.TICKETS_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const run = randomUUID().replaceAll("-", "").slice(0, 12);
let schemas = 0;
const schemaName = () => `baton_tickets_test_${run}_${++schemas}`;

/** A raw pg pool for setup and cleanup (the store does not expose its own). */
interface AdminPool {
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}
let admin: AdminPool;

beforeAll(async () => {
  const specifier: string = "pg";
  const pg = (await import(specifier).catch((error: unknown) => {
    throw new Error(`the PostgreSQL tests need the "pg" package: npm install pg@${PG_VERSION} (${(error as Error).message})`);
  })) as { default: { Pool: new (c: Record<string, unknown>) => AdminPool } };
  admin = new pg.default.Pool({ connectionString: url, max: 2 });
  await admin.query("SELECT 1").catch((error: unknown) => {
    throw new Error(
      `PostgreSQL is not reachable at ${url} (${(error as Error).message}); start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
  });
});
afterAll(async () => {
  await admin?.end();
});

async function dropSchema(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

describeTicketStoreContract("PostgreSQL", async () => {
  const schema = schemaName();
  const store = await PostgresTicketStore.open(url, { schema });
  return {
    store,
    async cleanup() {
      await store.dispose();
      await dropSchema(schema);
    },
  };
});

describe("PostgresTicketStore", () => {
  it("two stores on one schema (two replicas) racing with one key write one row; the UNIQUE constraint is in the table", async () => {
    const schema = schemaName();
    const [a, b] = await Promise.all([PostgresTicketStore.open(url, { schema }), PostgresTicketStore.open(url, { schema })]);
    try {
      const input = { title: "Race", body: "", priority: "normal" as const, labels: [] };
      const runs = await Promise.all([a, b, a, b].map((s) => s.create(input, "k-race")));
      expect(new Set(runs.map((r) => r.result.ticket.id)).size).toBe(1);
      expect(runs.filter((r) => !r.repeated)).toHaveLength(1);
      const rows = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".tickets WHERE idempotency_key = $1`, ["k-race"]);
      expect(rows.rows[0]).toEqual({ n: 1 });
      await expect(
        admin.query(
          `INSERT INTO "${schema}".tickets (title, body, priority, created_at, updated_at, idempotency_key) VALUES ('x', '', 'low', now(), now(), 'k-race')`,
        ),
      ).rejects.toMatchObject({ code: "23505" });
    } finally {
      await a.dispose();
      await b.dispose();
      await dropSchema(schema);
    }
  });

  it("never shows the password of DATABASE_URL in errors or its location", async () => {
    const secretUrl = "postgres://baton:Sup3r-s3cret@127.0.0.1:1/nowhere";
    const error = await PostgresTicketStore.open(secretUrl, { schema: schemaName() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TicketStoreError);
    expect(error).toMatchObject({ code: "UNAVAILABLE", retryable: true });
    expect((error as Error).message).not.toContain("Sup3r-s3cret");
    expect(JSON.stringify(error)).not.toContain("Sup3r-s3cret");
    expect((error as Error).cause).toBeUndefined();
    const bad = await PostgresTicketStore.open("mysql://u:Sup3r-s3cret@h/db").catch((e: unknown) => e);
    expect((bad as Error).message).toBe("DATABASE_URL must be a postgres:// or postgresql:// URL (got mysql://u:***@h/db)");
    const schema = schemaName();
    const store = await PostgresTicketStore.open(url.replace("postgres://postgres@", "postgres://postgres:unused-pw@"), { schema });
    expect(store.location).not.toContain("unused-pw");
    await store.dispose();
    await dropSchema(schema);
  });
});
