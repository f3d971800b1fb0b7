import type { MemorySummary } from "@baton/contracts";
import type { MemoryStore } from "@baton/memory";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

/** A store under test and how to dispose of it (close it and drop its data). */
export interface MemoryStoreFixture {
  store: MemoryStore;
  cleanup(): Promise<void>;
}

/** A valid summary; `overrides` replace fields. */
export function summary(overrides: Partial<MemorySummary> & Pick<MemorySummary, "taskId">): MemorySummary {
  return {
    schemaVersion: 1,
    goal: "a goal",
    digest: "a digest",
    keyFacts: [],
    agents: ["research"],
    tools: ["web.search"],
    usage: { toolCalls: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 },
    createdAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** Six summaries on distinct topics; each digest contains the shared word "summary". */
const TOPICS: MemorySummary[] = [
  summary({
    taskId: "t-k8s",
    goal: "Configure Kubernetes pod autoscaling",
    digest: "summary: the horizontal pod autoscaler scales deployments on CPU metrics.",
    keyFacts: ["HPA needs metrics-server", "cooldown defaults to five minutes"],
    createdAt: "2026-01-01T10:00:00.000Z",
  }),
  summary({
    taskId: "t-bread",
    goal: "Bake sourdough bread at home",
    digest: "summary: a levain, long cold fermentation and a hot dutch oven give an open crumb.",
    keyFacts: ["hydration around 75 percent"],
    createdAt: "2026-01-01T11:00:00.000Z",
  }),
  summary({
    taskId: "t-postgres",
    goal: "Speed up slow Postgres queries",
    digest: "summary: add a composite index and read EXPLAIN ANALYZE output before rewriting the query.",
    keyFacts: ["sequential scans on large tables were the bottleneck", "vacuum analyze refreshes planner statistics"],
    agents: ["data", "code"],
    createdAt: "2026-01-01T12:00:00.000Z",
  }),
  summary({
    taskId: "t-solar",
    goal: "Compare solar panel efficiency",
    digest: "summary: monocrystalline panels convert more sunlight than polycrystalline ones.",
    keyFacts: ["temperature lowers photovoltaic output"],
    createdAt: "2026-01-01T09:00:00.000Z",
  }),
  summary({
    taskId: "t-rust",
    goal: "Explain the Rust borrow checker",
    digest: "summary: ownership and lifetimes let the compiler reject data races.",
    keyFacts: ["one mutable reference or many shared references"],
    agents: ["code"],
    createdAt: "2026-01-01T13:00:00.000Z",
  }),
  summary({
    taskId: "t-marathon",
    goal: "Plan marathon training",
    digest: "summary: sixteen weeks of progressive long runs with a taper.",
    keyFacts: ["long run peaks near 32 kilometers"],
    createdAt: "2026-01-01T08:00:00.000Z",
  }),
];

/**
 * The behaviour every `MemoryStore` implementation must have. Each test gets a fresh store
 * from `factory` (which must start empty) and disposes of it afterwards.
 */
export function describeMemoryStoreContract(name: string, factory: () => Promise<MemoryStoreFixture>): void {
  describe(`MemoryStore contract: ${name}`, () => {
    let fixture: MemoryStoreFixture | undefined;
    const store = (): MemoryStore => {
      if (!fixture) throw new Error("fixture not ready");
      return fixture.store;
    };
    const putAll = async (summaries: MemorySummary[]) => {
      for (const s of summaries) await store().put(s);
    };

    beforeEach(async () => {
      fixture = await factory();
    });
    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    it("round-trips put and get", async () => {
      const s = summary({ taskId: "t-1", keyFacts: ["fact one", "fact two"], agents: ["research", "data"] });
      await store().put(s);
      expect(await store().get("t-1")).toEqual(s);
    });

    it("upserts: a second put with the same taskId replaces the first everywhere", async () => {
      await store().put(summary({ taskId: "t-1", goal: "Catalogue medieval cathedrals" }));
      const replacement = summary({ taskId: "t-1", goal: "Benchmark websocket servers", digest: "new digest" });
      await store().put(replacement);
      expect(await store().get("t-1")).toEqual(replacement);
      expect(await store().list()).toEqual([replacement]);
      expect(await store().search("cathedrals")).toEqual([]);
      expect(await store().search("websocket")).toEqual([replacement]);
    });

    it("returns undefined for an unknown taskId", async () => {
      await store().put(summary({ taskId: "t-1" }));
      expect(await store().get("t-unknown")).toBeUndefined();
      expect(await store().get("not a valid id")).toBeUndefined();
    });

    it("ranks the relevant summary first among distinct topics", async () => {
      await putAll(TOPICS);
      const pg = await store().search("postgres query index");
      expect(pg[0]?.taskId).toBe("t-postgres");
      const bread = await store().search("sourdough fermentation");
      expect(bread[0]?.taskId).toBe("t-bread");
      // keyFacts are searched too.
      const rust = await store().search("mutable reference");
      expect(rust[0]?.taskId).toBe("t-rust");
      expect(await store().search("xylophone")).toEqual([]);
      expect(await store().search("   ")).toEqual([]);
    });

    it("respects k (default 5)", async () => {
      await putAll(TOPICS);
      expect(await store().search("summary", 3)).toHaveLength(3);
      expect(await store().search("summary")).toHaveLength(5);
      expect(await store().search("summary", 50)).toHaveLength(6);
      await expect(store().search("summary", 0)).rejects.toThrow(RangeError);
    });

    it("lists most recent first, up to limit (default 20)", async () => {
      await putAll(TOPICS);
      const byTime = [...TOPICS].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((s) => s.taskId);
      expect((await store().list()).map((s) => s.taskId)).toEqual(byTime);
      expect((await store().list(2)).map((s) => s.taskId)).toEqual(byTime.slice(0, 2));
      await expect(store().list(-1)).rejects.toThrow(RangeError);
    });

    it("applies the default list limit of 20", async () => {
      const many = Array.from({ length: 23 }, (_, i) =>
        summary({ taskId: `t-${i}`, createdAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString() }),
      );
      await putAll(many);
      const listed = await store().list();
      expect(listed).toHaveLength(20);
      expect(listed[0]?.taskId).toBe("t-22");
    });

    it("rejects an invalid summary and stores nothing", async () => {
      const bad = [
        summary({ taskId: "bad id with spaces" }),
        summary({ taskId: "t-long", digest: "x".repeat(2_001) }),
        { ...summary({ taskId: "t-nofacts" }), keyFacts: undefined } as unknown as MemorySummary,
      ];
      for (const s of bad) await expect(store().put(s)).rejects.toThrow();
      expect(await store().get("t-long")).toBeUndefined();
      expect(await store().list()).toEqual([]);
    });
  });
}
