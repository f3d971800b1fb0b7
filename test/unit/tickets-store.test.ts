import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { SqliteTicketStore } from "../../services/tickets-agent/src/index.ts";
import { ROOT } from "../support/services.ts";
import { describeTicketStoreContract } from "../support/tickets-store-contract.ts";

// The embedded backend (node:sqlite). The same contract runs against PostgreSQL in
// test/integration/tickets-store.test.ts.
const dir = mkdtempSync(join(tmpdir(), "baton-tickets-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeTicketStoreContract("SQLite in memory", async () => {
  const store = SqliteTicketStore.open(":memory:");
  return { store, cleanup: () => store.dispose() };
});

let files = 0;
describeTicketStoreContract("SQLite file", async () => {
  const path = join(dir, `contract-${++files}`, "tickets.db");
  const store = SqliteTicketStore.open(path);
  return { store, cleanup: () => store.dispose() };
});

describe("SqliteTicketStore on a shared file", () => {
  it("two processes on one file (two replicas on one host) write a repeated key once: one row carries the key", async () => {
    const path = join(dir, "shared.db");
    SqliteTicketStore.open(path); // create the tables first, as the agent does at start
    const script = [
      `import { SqliteTicketStore } from ${JSON.stringify(join(ROOT, "services/tickets-agent/src/store/sqlite.ts"))};`,
      `const store = SqliteTicketStore.open(${JSON.stringify(path)});`,
      `const input = { title: "Shared", body: "", priority: "normal", labels: [] };`,
      "const runs = await Promise.all([1, 2, 3].map(() => store.create(input, 'k-shared')));",
      "process.stdout.write(JSON.stringify(runs));",
      "await store.dispose();",
    ].join("\n");
    const child = () =>
      new Promise<{ result: { ticket: { id: number } }; repeated: boolean }[]>((resolve, reject) => {
        execFile(process.execPath, ["--no-warnings", "--input-type=module", "-e", script], (error, stdout) =>
          error ? reject(error) : resolve(JSON.parse(stdout)),
        );
      });
    const runs = (await Promise.all([child(), child()])).flat();
    expect(new Set(runs.map((r) => r.result.ticket.id)).size).toBe(1);
    expect(runs.filter((r) => !r.repeated)).toHaveLength(1);
    const db = new DatabaseSync(path, { readOnly: true });
    expect(db.prepare("SELECT count(*) AS n FROM tickets WHERE idempotency_key = ?").get("k-shared")).toEqual({ n: 1 });
    expect(db.prepare("SELECT count(*) AS n FROM ticket_writes WHERE idempotency_key = ?").get("k-shared")).toEqual({ n: 1 });
    db.close();
  });

  it("refuses a second ticket row with the same idempotency key at the database (UNIQUE)", () => {
    const path = join(dir, "unique.db");
    SqliteTicketStore.open(path);
    const db = new DatabaseSync(path);
    const insert = db.prepare(
      "INSERT INTO tickets (title, body, priority, labels, created_at, updated_at, idempotency_key) VALUES ('t', '', 'low', '[]', 'x', 'x', 'same')",
    );
    insert.run();
    expect(() => insert.run()).toThrow(/UNIQUE/);
    db.close();
  });

  it("reports a closed store's calls as errors", async () => {
    const store = SqliteTicketStore.open(":memory:");
    await store.dispose();
    await expect(store.get(1)).rejects.toMatchObject({ code: "FAILED" });
  });
});
