import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BudgetLedgers, connectNats, type LocalNatsServer, provisionAll, startLocalNatsServer } from "@baton/core";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The per-task budget ledger on a real nats-server: concurrent spenders (as several workers of
// one task on several hosts would be) add up exactly, and every guard sees the same verdict.
describe("per-task budget ledgers in JetStream KV", () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-budget-"));
    nats = await startLocalNatsServer({ storeDir: dir });
    nc = await connectNats(nats.url, "budget-test");
    await provisionAll(nc);
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("adds up concurrent spending exactly (compare-and-set) and trips the token limit", async () => {
    const a = await BudgetLedgers.open(nc);
    const secondHost = await connectNats(nats.url, "second-host");
    const b = await BudgetLedgers.open(secondHost);
    await a.create("t1", { maxTokens: 1_000 }, new Date());
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).guard("t1").record({ inputTokens: 30, outputTokens: 10, costUsd: 0.001 })),
    );
    const ledger = (await a.get("t1"))?.ledger;
    expect(ledger?.used).toEqual({ inputTokens: 600, outputTokens: 200, costUsd: expect.closeTo(0.02, 10), llmCalls: 20 });
    expect(ledger?.exceeded).toBeUndefined();
    await expect(b.guard("t1").check()).resolves.toBeUndefined();
    await a.guard("t1").record({ inputTokens: 150, outputTokens: 60, costUsd: 0 });
    await expect(b.guard("t1").check()).rejects.toMatchObject({ code: "BUDGET_EXCEEDED", retryable: false });
    expect(await a.overBudget("t1")).toBe("1010 tokens used of 1000");
    await secondHost.drain();
  });

  it("trips the USD limit and the wall-time limit", async () => {
    const ledgers = await BudgetLedgers.open(nc);
    await ledgers.create("t2", { maxCostUsd: 0.05 }, new Date());
    await ledgers.guard("t2").record({ inputTokens: 1, outputTokens: 1, costUsd: 0.06 });
    expect(await ledgers.overBudget("t2")).toContain("spent of $0.05");
    await ledgers.create("t3", { maxWallTimeMs: 1_000 }, new Date(Date.now() - 5_000));
    expect(await ledgers.overBudget("t3")).toContain("wall time of 1000 ms passed");
  });

  it("keeps the first ledger when a task's ledger is created twice, and limits nothing without one", async () => {
    const ledgers = await BudgetLedgers.open(nc);
    await ledgers.create("t4", { maxTokens: 10 }, new Date());
    await ledgers.create("t4", { maxTokens: 99_999 }, new Date());
    expect((await ledgers.get("t4"))?.ledger.limits.maxTokens).toBe(10);
    await expect(ledgers.guard("no-ledger").check()).resolves.toBeUndefined();
  });
});
