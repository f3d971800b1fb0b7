import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TaskState } from "@baton/contracts";
import { connectNats, type LocalNatsServer, natsServerAvailable, provisionAll, startLocalNatsServer, TaskStore } from "@baton/core";
import { newTaskState } from "@baton/supervisor";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Task state on a real nats-server, as issue 10 changed it: a store tries the state it wrote last
// before reading, and runs one update per task at a time. Neither may lose a write: a replica
// with a stale copy must fail its compare-and-set and read again, and concurrent updates in one
// process must all land.

/** A running task of `n` steps whose metadata counts the updates applied (`n` = that count). */
function task(taskId: string): TaskState {
  const state = newTaskState({
    taskId,
    goal: "count",
    plan: { failurePolicy: "fail-fast", steps: [{ id: "a", agent: "code", instruction: "x", toolCalls: [], dependsOn: [] }] },
    acceptedAt: new Date(),
    timeoutMs: 60_000,
  });
  return { ...state, metadata: { n: "0" } };
}

/** A change that adds one to the counter (never modifying the state it is given). */
const increment = (state: TaskState) => ({ state: { ...state, metadata: { n: String(Number(state.metadata?.n ?? 0) + 1) } } });

describe.skipIf(!natsServerAvailable())("task state: last-written state and one update per task at a time", () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let other: NatsConnection;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-task-store-"));
    nats = await startLocalNatsServer({ storeDir: dir });
    nc = await connectNats(nats.url, "task-store-test");
    other = await connectNats(nats.url, "task-store-test-replica");
    await provisionAll(nc);
  });
  afterAll(async () => {
    await other?.drain();
    await nc?.drain();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies 50 concurrent updates of one task from one process, none lost", async () => {
    const store = await TaskStore.open(nc);
    expect(await store.create(task("t-concurrent"))).toBe(true);
    await Promise.all(Array.from({ length: 50 }, () => store.update("t-concurrent", increment)));
    expect((await store.get("t-concurrent"))?.state.metadata?.n).toBe("50");
  });

  it("two replicas alternating: a stale last-written state fails its compare-and-set and is read again", async () => {
    const a = await TaskStore.open(nc);
    const b = await TaskStore.open(other);
    expect(await a.create(task("t-replicas"))).toBe(true);
    for (let i = 0; i < 10; i++) {
      // Each store's own last write is stale after the other's: the update must still count.
      await a.update("t-replicas", increment);
      await b.update("t-replicas", increment);
    }
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).update("t-replicas", increment)));
    expect((await a.get("t-replicas"))?.state.metadata?.n).toBe("40");
  });

  it('believes "no change" only of a state read from the bucket', async () => {
    const a = await TaskStore.open(nc);
    const b = await TaskStore.open(other);
    expect(await a.create(task("t-no-change"))).toBe(true);
    await b.update("t-no-change", increment); // a's last-written state now says n = 0
    const seen: string[] = [];
    // Changes only once n is 1: on a's stale copy it finds nothing to do, so it must read again.
    const result = await a.update("t-no-change", (state) => {
      seen.push(state.metadata?.n ?? "?");
      return state.metadata?.n === "1" ? increment(state) : undefined;
    });
    expect(seen).toEqual(["0", "1"]);
    expect(result?.state.metadata?.n).toBe("2");
    expect((await b.get("t-no-change"))?.state.metadata?.n).toBe("2");
  });
});
