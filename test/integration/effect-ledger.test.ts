import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectNats, KvEffectLedger, type LocalNatsServer, provisionAll, startLocalNatsServer } from "@baton/core";
import { defineTool, effectId, executeToolCall, ToolError, ToolRegistry } from "@baton/tools";
import { Kvm } from "@nats-io/kv";
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
  it("gives every call of a non-idempotent tool its effect id as ctx.idempotencyKey, and none to idempotent tools", async () => {
    const seen: (string | undefined)[] = [];
    const write = defineTool({
      name: "write_row",
      description: "write",
      input: z.object({ v: z.number() }),
      riskTier: "write",
      idempotent: false,
      execute: async (_a, c) => seen.push(c.idempotencyKey),
    });
    const read = defineTool({
      name: "read_row",
      description: "read",
      input: z.object({ v: z.number() }),
      riskTier: "read",
      idempotent: true,
      execute: async (_a, c) => seen.push(c.idempotencyKey),
    });
    const reg = new ToolRegistry([write, read]);
    await executeToolCall(reg, { tool: "write_row", args: { v: 1 } }, ctx("t6"));
    await executeToolCall(reg, { tool: "write_row", args: { v: 1 } }, ctx("t6"));
    await executeToolCall(reg, { tool: "write_row", args: { v: 2 } }, ctx("t6"));
    await executeToolCall(reg, { tool: "read_row", args: { v: 1 } }, ctx("t6"));
    const expected = effectId({ taskId: "t6", stepId: "pay", tool: "write_row", args: { v: 1 } });
    expect(seen[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(seen).toEqual([expected, expected, effectId({ taskId: "t6", stepId: "pay", tool: "write_row", args: { v: 2 } }), undefined]);
    expect(() =>
      defineTool({
        name: "bad",
        description: "an idempotent tool cannot take a key",
        input: z.object({}),
        riskTier: "read",
        idempotent: true,
        usesIdempotencyKey: true,
        execute: async () => null,
      }),
    ).toThrow(RangeError);
  });

  describe("tools that pass the idempotency key on (usesIdempotencyKey)", () => {
    // The downstream system: remembers the first result per idempotency key, like a UNIQUE column.
    const rows = new Map<string, { row: number; key: string }>();
    let calls = 0;
    const fileRow = defineTool({
      name: "file_row",
      description: "Files a row (a side effect keyed by the idempotency key).",
      input: z.object({ title: z.string() }),
      timeoutMs: 500,
      riskTier: "write",
      idempotent: false,
      usesIdempotencyKey: true,
      async execute(_args, c) {
        calls += 1;
        const key = c.idempotencyKey ?? "";
        const existing = rows.get(key);
        if (existing) return existing;
        const row = { row: rows.size + 1, key };
        rows.set(key, row);
        return row;
      },
    });
    const reg = new ToolRegistry([fileRow]);
    // An owner that claimed the effect, wrote the row, and died before recording the result.
    async function claimAndDie(taskId: string, args: { title: string }): Promise<string> {
      const key = { taskId, stepId: "pay", tool: "file_row", args };
      const id = effectId(key);
      rows.set(id, { row: rows.size + 1, key: id });
      const dead = await KvEffectLedger.open(nc, "dead-owner");
      void dead.run(id, key, () => new Promise<never>(() => {}));
      await new Promise((r) => setTimeout(r, 50));
      return id;
    }

    it("takes over a claim in doubt after timeoutMs + 2 s and repeats the call with the same key (no EFFECT_IN_DOUBT)", async () => {
      const id = await claimAndDie("t7", { title: "disk full" });
      const before = calls;
      const started = Date.now();
      const survivor = await KvEffectLedger.open(nc, "survivor"); // the ledger's own limit: 30 s
      const result = await executeToolCall(reg, { tool: "file_row", args: { title: "disk full" } }, ctx("t7"), { effects: survivor });
      const waitedMs = Date.now() - started;
      expect(result).toMatchObject({ ok: true, output: { row: rows.get(id)?.row, key: id } });
      expect(result.ok && result.replayed).toBeFalsy();
      expect(calls - before).toBe(1);
      expect(waitedMs).toBeGreaterThanOrEqual(2_300); // 500 ms timeout + 2 s margin, from the claim's start
      expect(waitedMs).toBeLessThan(10_000);
      const entry = await (await new Kvm(nc).open("baton_effects")).get(id);
      expect(entry?.json()).toMatchObject({ state: "done", owner: "survivor", takenOverFrom: "dead-owner" });
      // A later repeat replays the recorded output.
      const again = await executeToolCall(reg, { tool: "file_row", args: { title: "disk full" } }, ctx("t7"), { effects: survivor });
      expect(again).toMatchObject({ ok: true, replayed: true, output: { key: id } });
      expect(calls - before).toBe(1);
    });

    it("lets exactly one of several waiting replicas take the claim over (compare-and-set); the others get its result", async () => {
      await claimAndDie("t8", { title: "cpu hot" });
      const before = calls;
      const ledgers = await Promise.all(["r1", "r2", "r3"].map((o) => KvEffectLedger.open(nc, o)));
      const results = await Promise.all(
        ledgers.map((effects) => executeToolCall(reg, { tool: "file_row", args: { title: "cpu hot" } }, ctx("t8"), { effects })),
      );
      expect(calls - before).toBe(1);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.filter((r) => r.ok && r.replayed)).toHaveLength(2);
      expect(new Set(results.map((r) => JSON.stringify(r.ok ? r.output : r.error))).size).toBe(1);
    });

    it("the ledger: repeatInDoubt takes over at the shorter per-call limit and reports repeated: true", async () => {
      const key = { taskId: "t9", stepId: "pay", tool: "file_row" };
      const dead = await KvEffectLedger.open(nc, "dead", 30_000);
      void dead.run("doubt-9", key, () => new Promise<never>(() => {}));
      await new Promise((r) => setTimeout(r, 50));
      const survivor = await KvEffectLedger.open(nc, "survivor", 30_000);
      const started = Date.now();
      const run = await survivor.run("doubt-9", key, async () => "again", { repeatInDoubt: true, inDoubtAfterMs: 300 });
      expect(run).toEqual({ output: "again", replayed: false, repeated: true });
      expect(Date.now() - started).toBeLessThan(5_000);
      // Without the flag the same situation is still EFFECT_IN_DOUBT.
      void dead.run("doubt-10", key, () => new Promise<never>(() => {}));
      await new Promise((r) => setTimeout(r, 50));
      await expect(survivor.run("doubt-10", key, async () => "again", { inDoubtAfterMs: 300 })).rejects.toMatchObject({
        code: "EFFECT_IN_DOUBT",
      });
    });
  });
});
