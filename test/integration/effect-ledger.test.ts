import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, KvEffectLedger, type LocalNatsServer, provisionAll, startLocalNatsServer } from "@baton/core";
import { defineTool, executeToolCall, ToolError, ToolRegistry } from "@baton/tools";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// The effect ledger on a real nats-server: a non-idempotent tool's side effect runs at most once
// per (task, step, tool, arguments), across replicas and redeliveries.
describe("effect ledger for non-idempotent tools", () => {
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let dir: string;
  const executions: string[] = [];
  let failNext = false;
  const charge = defineTool({
    name: "charge_card",
    description: "Charges a card (a side effect).",
    input: z.object({ amountUsd: z.number(), card: z.string() }),
    timeoutMs: 2_000,
    riskTier: "external",
    idempotent: false,
    async execute(args, ctx) {
      await new Promise((r) => setTimeout(r, 50));
      if (failNext) {
        failNext = false;
        throw new ToolError("TOOL_FAILED", "card network down", { retryable: true });
      }
      executions.push(`${ctx.taskId}/${ctx.stepId}/${args.card}`);
      return { receipt: `r-${executions.length}` };
    },
  });
  const registry = new ToolRegistry([charge]);
  const ctx = (taskId: string) => ({ signal: new AbortController().signal, taskId, stepId: "pay", inputs: {} });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-effects-"));
    nats = await startLocalNatsServer({ storeDir: dir });
    nc = await connectNats(nats.url, "effects-test");
    await provisionAll(nc);
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the effect once and replays the recorded result for a redelivered step on another replica", async () => {
    const replicaA = await KvEffectLedger.open(nc, "replica-a");
    const replicaB = await KvEffectLedger.open(nc, "replica-b");
    const call = { tool: "charge_card", args: { card: "4242", amountUsd: 10 } };
    const first = await executeToolCall(registry, call, ctx("t1"), { effects: replicaA });
    const again = await executeToolCall(registry, { tool: "charge_card", args: { amountUsd: 10, card: "4242" } }, ctx("t1"), {
      effects: replicaB,
    });
    expect(first).toMatchObject({ ok: true, output: { receipt: "r-1" } });
    expect(again).toMatchObject({ ok: true, output: { receipt: "r-1" }, replayed: true });
    expect(executions.filter((e) => e.startsWith("t1/"))).toHaveLength(1);
  });

  it("runs concurrent duplicates once: the losers wait for the winner's result", async () => {
    const ledgers = await Promise.all(["a", "b", "c", "d"].map((o) => KvEffectLedger.open(nc, o)));
    const results = await Promise.all(
      ledgers.map((effects) =>
        executeToolCall(registry, { tool: "charge_card", args: { card: "5555", amountUsd: 3 } }, ctx("t2"), { effects }),
      ),
    );
    expect(executions.filter((e) => e.startsWith("t2/"))).toHaveLength(1);
    expect(new Set(results.map((r) => JSON.stringify(r.ok ? r.output : r.error)))).toHaveProperty("size", 1);
    expect(results.filter((r) => r.ok && r.replayed)).toHaveLength(3);
  });

  it("releases the claim of a failed effect so a retry can run it", async () => {
    const effects = await KvEffectLedger.open(nc, "a");
    failNext = true;
    const failed = await executeToolCall(registry, { tool: "charge_card", args: { card: "1", amountUsd: 1 } }, ctx("t3"), { effects });
    expect(failed).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: true } });
    const retried = await executeToolCall(registry, { tool: "charge_card", args: { card: "1", amountUsd: 1 } }, ctx("t3"), { effects });
    expect(retried).toMatchObject({ ok: true });
    expect(retried.ok && retried.replayed).toBeFalsy();
    expect(executions.filter((e) => e.startsWith("t3/"))).toHaveLength(1);
  });

  it("refuses to run an effect in doubt (claimed by a process that died before recording it)", async () => {
    const dead = await KvEffectLedger.open(nc, "dead", 300);
    const never = new Promise<unknown>(() => {}); // the owner dies mid-effect: no result ever
    void dead.run("doubt-1", { taskId: "t4", stepId: "pay", tool: "charge_card" }, () => never);
    await new Promise((r) => setTimeout(r, 50));
    const survivor = await KvEffectLedger.open(nc, "survivor", 300);
    await expect(survivor.run("doubt-1", { taskId: "t4", stepId: "pay", tool: "charge_card" }, async () => "again")).rejects.toMatchObject({
      code: "EFFECT_IN_DOUBT",
      retryable: false,
    });
  });

  it("runs idempotent tools without the ledger", async () => {
    const effects = await KvEffectLedger.open(nc, "a");
    const echo = defineTool({
      name: "echo",
      description: "echo",
      input: z.object({ v: z.number() }),
      timeoutMs: 1000,
      riskTier: "read",
      idempotent: true,
      execute: async (a) => a.v,
    });
    const reg = new ToolRegistry([echo]);
    const r1 = await executeToolCall(reg, { tool: "echo", args: { v: 1 } }, ctx("t5"), { effects });
    const r2 = await executeToolCall(reg, { tool: "echo", args: { v: 1 } }, ctx("t5"), { effects });
    expect([r1, r2].map((r) => r.ok && r.replayed)).toEqual([undefined, undefined]);
  });
});
