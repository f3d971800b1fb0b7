import { type TicketStore, TicketStoreError } from "../../services/tickets-agent/src/index.ts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** A store under test and how to dispose of it (close it and drop its data). */
export interface TicketStoreFixture {
  readonly store: TicketStore;
  cleanup(): Promise<void>;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
let keys = 0;
/** A fresh idempotency key. */
const key = () => `key-${Date.now()}-${++keys}`;
const input = (title: string, extra: Partial<{ body: string; priority: "low" | "normal" | "high" | "urgent"; labels: string[] }> = {}) => ({
  title,
  body: "",
  priority: "normal" as const,
  labels: [],
  ...extra,
});

/**
 * The behaviour every {@link TicketStore} must have, run against each backend (SQLite in
 * test/unit/tickets-store.test.ts, PostgreSQL in test/integration/tickets-store.test.ts).
 * `make` gives a fresh, empty store per test.
 */
export function describeTicketStoreContract(name: string, make: () => Promise<TicketStoreFixture>): void {
  describe(`TicketStore contract: ${name}`, () => {
    let fixture: TicketStoreFixture;
    let store: TicketStore;
    beforeEach(async () => {
      fixture = await make();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it("creates an open ticket with an id and timestamps, and reads it back", async () => {
      const { result, repeated } = await store.create(
        input("Disk almost full", { body: "92 % on /var — ünïcødé ✓", priority: "high", labels: ["ops", " disk ", "ops"] }),
        key(),
      );
      expect(repeated).toBe(false);
      const t = result.ticket;
      expect(t).toEqual({
        id: expect.any(Number),
        title: "Disk almost full",
        body: "92 % on /var — ünïcødé ✓",
        priority: "high",
        labels: ["ops", "disk"],
        status: "open",
        resolution: null,
        createdAt: expect.stringMatching(ISO),
        updatedAt: t.createdAt,
        closedAt: null,
      });
      expect(t.id).toBeGreaterThan(0);
      expect(await store.get(t.id)).toEqual(t);
      expect(await store.get(t.id + 1000)).toBeUndefined();
    });

    it("returns the stored ticket for a repeated idempotency key, never a second row", async () => {
      const k = key();
      const first = await store.create(input("Only once"), k);
      const second = await store.create(input("Only once"), k);
      expect(second).toEqual({ result: first.result, repeated: true });
      expect(await store.list({ text: "Only once", limit: 10 })).toHaveLength(1);
      const other = await store.create(input("Only once"), key());
      expect(other.result.ticket.id).not.toBe(first.result.ticket.id);
    });

    it("runs concurrent writes with the same key once", async () => {
      const k = key();
      const results = await Promise.all(Array.from({ length: 5 }, () => store.create(input("Concurrent"), k)));
      expect(new Set(results.map((r) => r.result.ticket.id)).size).toBe(1);
      expect(results.filter((r) => !r.repeated)).toHaveLength(1);
      expect(await store.list({ text: "Concurrent", limit: 10 })).toHaveLength(1);
    });

    it("updates fields and returns the ticket before and after; a repeated key changes nothing more", async () => {
      const { ticket } = (await store.create(input("Slow page", { labels: ["web"] }), key())).result;
      await new Promise((r) => setTimeout(r, 5));
      const k = key();
      const { result, repeated } = await store.update(ticket.id, { priority: "urgent", labels: ["web", "perf"] }, k);
      expect(repeated).toBe(false);
      expect(result.before).toEqual(ticket);
      expect(result.after).toEqual({ ...ticket, priority: "urgent", labels: ["web", "perf"], updatedAt: expect.stringMatching(ISO) });
      expect(result.after.updatedAt > ticket.updatedAt).toBe(true);
      expect(await store.get(ticket.id)).toEqual(result.after);
      // Someone changes it again; a repeat of the first update returns its stored result and does not re-apply it.
      await store.update(ticket.id, { priority: "low" }, key());
      const again = await store.update(ticket.id, { priority: "urgent", labels: ["web", "perf"] }, k);
      expect(again).toEqual({ result, repeated: true });
      expect((await store.get(ticket.id))?.priority).toBe("low");
    });

    it("closes and reopens, refusing a close of a closed ticket and a reopen of an open one", async () => {
      const { ticket } = (await store.create(input("Flaky test"), key())).result;
      const closed = await store.close(ticket.id, "fixed in 1.4.2", key());
      expect(closed.result.after).toMatchObject({ status: "closed", resolution: "fixed in 1.4.2", closedAt: expect.stringMatching(ISO) });
      expect(closed.result.before.status).toBe("open");
      await expect(store.close(ticket.id, "again", key())).rejects.toMatchObject({ code: "CONFLICT", retryable: false });
      const reopened = await store.reopen(ticket.id, key());
      expect(reopened.result.after).toMatchObject({ status: "open", resolution: null, closedAt: null });
      expect(reopened.result.before).toEqual(closed.result.after);
      await expect(store.reopen(ticket.id, key())).rejects.toMatchObject({ code: "CONFLICT" });
    });

    it("fails a write to a missing ticket with NOT_FOUND and keeps its key unused", async () => {
      const k = key();
      const error = await store.update(999_999, { title: "x" }, k).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TicketStoreError);
      expect(error).toMatchObject({ code: "NOT_FOUND", retryable: false });
      const { ticket } = (await store.create(input("Later"), key())).result;
      // The failed write stored nothing, so the key still works (for the same action).
      expect((await store.update(ticket.id, { title: "Later, renamed" }, k)).repeated).toBe(false);
    });

    it("refuses a key already used for another action (KEY_REUSED)", async () => {
      const k = key();
      const { ticket } = (await store.create(input("Keyed"), k)).result;
      await expect(store.close(ticket.id, "done", k)).rejects.toMatchObject({ code: "KEY_REUSED" });
      expect((await store.get(ticket.id))?.status).toBe("open");
    });

    it("lists newest first with status, priority, label, title-text filters and a limit", async () => {
      const a = (await store.create(input("Alpha outage", { priority: "urgent", labels: ["ops"] }), key())).result.ticket;
      const b = (await store.create(input("beta typo", { priority: "low", labels: ["docs"] }), key())).result.ticket;
      const c = (await store.create(input("Gamma OUTAGE", { priority: "urgent", labels: ["ops", "db"] }), key())).result.ticket;
      await store.close(c.id, "resolved", key());
      const ids = async (filter: Parameters<TicketStore["list"]>[0]) => (await store.list(filter)).map((t) => t.id);
      expect(await ids({ limit: 10 })).toEqual([c.id, b.id, a.id]);
      expect(await ids({ limit: 2 })).toEqual([c.id, b.id]);
      expect(await ids({ status: "open", limit: 10 })).toEqual([b.id, a.id]);
      expect(await ids({ priority: "urgent", limit: 10 })).toEqual([c.id, a.id]);
      expect(await ids({ label: "ops", limit: 10 })).toEqual([c.id, a.id]);
      expect(await ids({ label: "db", status: "closed", limit: 10 })).toEqual([c.id]);
      expect(await ids({ text: "outage", limit: 10 })).toEqual([c.id, a.id]);
      expect(await ids({ label: "nope", limit: 10 })).toEqual([]);
    });
  });
}
