import { ToolError } from "@baton/tools";
import { afterAll, describe, expect, it } from "vitest";
import { processWorkers } from "../../services/code-agent/src/tools/pool-process.ts";
import { threadWorkers } from "../../services/code-agent/src/tools/pool-thread.ts";
import { createSandbox, HARD_STOP_GRACE_MS, type Sandbox } from "../../services/code-agent/src/tools/sandbox.ts";
import { type StartWorker, WorkerPool, type WorkerPoolOptions } from "../../services/code-agent/src/tools/worker-pool.ts";

// The pool that runs the code agent's tools off its event loop (issue 9, item 1): a call over its limit or
// cancelled has its worker stopped and replaced, a crashing worker fails its call only, and the event loop
// keeps turning meanwhile. First through the real QuickJS sandbox, then with a test worker (thread and process).

const FIXTURE = new URL("../fixtures/pool/worker.ts", import.meta.url);
type Request = { op: "echo"; value: unknown } | { op: "fail" | "spin" | "throw" | "exit" };

const sandboxes: Sandbox[] = [];
const pools: WorkerPool<Request, unknown>[] = [];
afterAll(() => {
  for (const s of sandboxes) s.close();
  for (const p of pools) p.close();
});

async function sandbox(threads = 1): Promise<Sandbox> {
  const s = await createSandbox({ threads });
  sandboxes.push(s);
  return s;
}

function pool(start: StartWorker<Request, unknown>, options: Partial<WorkerPoolOptions<Request, unknown>> = {}) {
  const p = new WorkerPool<Request, unknown>({ name: "test worker", size: 1, start, ...options });
  pools.push(p);
  return p;
}

const threads = (mode?: string) => threadWorkers<Request, unknown>(FIXTURE, { name: "test thread", workerData: mode });
const processes = (mode?: string) => processWorkers<Request, unknown>(FIXTURE, { name: "test process", args: mode ? [mode] : [] });
const run = (p: WorkerPool<Request, unknown>, request: Request, extra: { limitMs?: number; signal?: AbortSignal; key?: string } = {}) =>
  p.run({ request, limitMs: extra.limitMs ?? 5_000, timeoutMessage: "too slow", signal: extra.signal, key: extra.key });

/** Counts event-loop turns (every 20 ms) while `work` runs. */
async function ticking<T>(work: () => Promise<T>): Promise<{ value: T | ToolError; ticks: number; ms: number }> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const started = performance.now();
  try {
    const value = await work().catch((error: unknown) => {
      if (error instanceof ToolError) return error;
      throw error;
    });
    return { value, ticks, ms: performance.now() - started };
  } finally {
    clearInterval(timer);
  }
}

describe("sandbox threads (QuickJS)", () => {
  it("stops a script at its limit without blocking the event loop, and reuses the thread", async () => {
    const s = await sandbox();
    const { value, ticks, ms } = await ticking(() => s.run({ code: "while (true) {}", timeoutMs: 500 }));
    expect(value).toMatchObject({ code: "TOOL_TIMEOUT", message: "script exceeded its 500 ms time limit", retryable: false });
    expect(ms).toBeLessThan(2_000);
    expect(ticks).toBeGreaterThan(10); // ~25 turns in 500 ms: the loop was free
    expect((await s.run({ code: "return 1 + 1;" })).result).toBe(2);
  });

  it("terminates a thread stuck past its limit inside a built-in, and the next call runs at once", async () => {
    const s = await sandbox(); // one thread: the next call could not run if the stuck one were left running
    // Ten BigInts of ~1 million bits turned into decimal digits by one join: ~3 s each here, all inside QuickJS's
    // C code, where its interrupt handler is never called.
    const code = "return Array(10).fill(7n ** 373000n).join('').length;";
    const { value, ticks, ms } = await ticking(() => s.run({ code, timeoutMs: 100 }));
    expect(value).toMatchObject({ code: "TOOL_TIMEOUT", message: "script exceeded its 100 ms time limit", retryable: false });
    expect(ms).toBeGreaterThanOrEqual(100 + HARD_STOP_GRACE_MS - 50);
    expect(ms).toBeLessThan(100 + HARD_STOP_GRACE_MS + 1_500);
    expect(ticks).toBeGreaterThan(20);
    const next = performance.now();
    expect((await s.run({ code: "return inputs.x * 2;", inputs: { x: 21 } })).result).toBe(42);
    expect(performance.now() - next).toBeLessThan(1_000); // a fresh thread, ready in ~40 ms
  });

  it("stops a running script when its signal aborts", async () => {
    const s = await sandbox();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const { value, ms } = await ticking(() => s.run({ code: "while (true) {}", timeoutMs: 5_000, signal: controller.signal }));
    expect(value).toMatchObject({ code: "TOOL_TIMEOUT", message: "script was cancelled" });
    expect(ms).toBeLessThan(1_000);
    expect((await s.run({ code: "return 'after';" })).result).toBe("after");
  });

  it("runs another call on another thread while one spins; calls with one key wait for each other", async () => {
    const s = await sandbox(2);
    const spinning = s.run({ code: "while (true) {}", timeoutMs: 1_500, key: "step-a" }).catch((error: unknown) => error);
    const quick = performance.now();
    expect((await s.run({ code: "return 1 + 1;", key: "step-b" })).result).toBe(2);
    expect(performance.now() - quick).toBeLessThan(500);
    const sameStep = performance.now();
    const second = await s.run({ code: "return 3;", key: "step-a" }); // queued behind the spinning call of its step
    expect(second.result).toBe(3);
    expect(performance.now() - sameStep).toBeGreaterThan(1_000);
    expect(await spinning).toMatchObject({ code: "TOOL_TIMEOUT" });
  });
});

describe.each([
  ["thread", threads],
  ["process", processes],
] as const)("worker pool (%s backend)", (kind, backend) => {
  it("answers requests and passes the worker's own errors on", async () => {
    const p = pool(backend());
    await p.ready();
    await expect(run(p, { op: "echo", value: { a: [1] } })).resolves.toEqual({ a: [1] });
    await expect(run(p, { op: "fail" })).rejects.toMatchObject({ code: "TOOL_FAILED", message: "failed on purpose", retryable: true });
    expect(p.stats).toMatchObject({ workers: 1, busy: 0, queued: 0, started: 1, stopped: 0 });
  });

  it("terminates a worker over its limit, fails the call with TOOL_TIMEOUT, and the next call still works", async () => {
    const p = pool(backend());
    await p.ready();
    const { value, ticks, ms } = await ticking(() => run(p, { op: "spin" }, { limitMs: 300 }));
    expect(value).toBeInstanceOf(ToolError);
    expect(value).toMatchObject({ code: "TOOL_TIMEOUT", message: "too slow", retryable: false });
    expect(ms).toBeLessThan(1_500);
    expect(ticks).toBeGreaterThan(5);
    expect(p.stats.stopped).toBe(1);
    await expect(run(p, { op: "echo", value: "next" })).resolves.toBe("next");
    expect(p.stats).toMatchObject({ workers: 1, started: 2 });
  });

  it("stops a running call when its signal aborts, and drops a queued one", async () => {
    const p = pool(backend());
    await p.ready();
    const running = new AbortController();
    const queued = new AbortController();
    const first = run(p, { op: "spin" }, { signal: running.signal });
    const second = run(p, { op: "echo", value: 2 }, { signal: queued.signal });
    expect(p.stats).toMatchObject({ busy: 1, queued: 1 });
    queued.abort();
    await expect(second).rejects.toMatchObject({ code: "TOOL_TIMEOUT", message: "cancelled" });
    running.abort();
    await expect(first).rejects.toMatchObject({ code: "TOOL_TIMEOUT", message: "cancelled" });
    expect(p.stats.stopped).toBe(1);
    await expect(run(p, { op: "echo", value: "after" })).resolves.toBe("after");
  });

  it("turns a crash of the worker into a tool error of its call only, and replaces the worker", async () => {
    const p = pool(backend(), { size: 2 });
    await p.ready();
    const bystander = run(p, { op: "echo", value: "fine" });
    const crash = await run(p, { op: "throw" }).catch((error: unknown) => error);
    expect(crash).toBeInstanceOf(ToolError);
    expect((crash as ToolError).code).toBe("TOOL_FAILED");
    expect((crash as ToolError).message).toBe(kind === "thread" ? "the test thread crashed: boom" : "the test process exited (code 1)");
    expect((crash as ToolError).retryable).toBe(false);
    await expect(bystander).resolves.toBe("fine");
    const exit = await run(p, { op: "exit" }).catch((error: unknown) => error);
    expect(exit).toMatchObject({ code: "TOOL_FAILED", message: `the test ${kind} exited (code 3)` });
    await expect(run(p, { op: "echo", value: "still here" })).resolves.toBe("still here");
    expect(p.stats.stopped).toBeGreaterThanOrEqual(2);
  });

  it("fails ready() and queued calls when no worker can start", async () => {
    const p = pool(backend("crash-at-start"), { restartDelayMs: 60_000 });
    await expect(p.ready()).rejects.toMatchObject({ code: "TOOL_FAILED" });
    await expect(run(p, { op: "echo", value: 1 })).rejects.toMatchObject({ code: "TOOL_FAILED", retryable: true });
  });
});

describe("worker pool", () => {
  it("starts workers on demand up to its size and stops idle extras", async () => {
    const p = pool(threads(), { size: 3, warm: 1, idleStopMs: 200 });
    await p.ready();
    expect(p.stats.workers).toBe(1);
    const spins = [1, 2, 3].map((k) => run(p, { op: "spin" }, { limitMs: 400, key: String(k) }));
    await expect.poll(() => p.stats.busy).toBe(3);
    for (const s of spins) await expect(s).rejects.toMatchObject({ code: "TOOL_TIMEOUT" });
    await expect(run(p, { op: "echo", value: 1 })).resolves.toBe(1);
    await expect.poll(() => p.stats.workers, { timeout: 3_000 }).toBe(1);
  });

  it("with growAfterMs, queues short calls and starts a worker only for a call stuck behind a long one", async () => {
    const p = pool(threads(), { size: 2, warm: 1, growAfterMs: 200 });
    await p.ready();
    const quick = await Promise.all([1, 2, 3, 4].map((value) => run(p, { op: "echo", value }, { key: String(value) })));
    expect(quick).toEqual([1, 2, 3, 4]);
    expect(p.stats.started).toBe(1); // they queued behind each other
    const spin = run(p, { op: "spin" }, { limitMs: 2_000, key: "a" }).catch((error: unknown) => error);
    const queued = performance.now();
    await expect(run(p, { op: "echo", value: "b" }, { key: "b" })).resolves.toBe("b");
    const waited = performance.now() - queued;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1_500);
    expect(p.stats).toMatchObject({ started: 2, busy: 1 });
    expect(await spin).toMatchObject({ code: "TOOL_TIMEOUT" });
  });

  it("fails calls in flight and later when closed", async () => {
    const p = pool(threads());
    await p.ready();
    const inFlight = run(p, { op: "spin" });
    p.close();
    await expect(inFlight).rejects.toMatchObject({ code: "TOOL_FAILED", retryable: true });
    await expect(run(p, { op: "echo", value: 1 })).rejects.toMatchObject({ code: "TOOL_FAILED", message: /closed/ });
    expect(p.stats.workers).toBe(0);
  });

  it("times a call from when a worker takes it, not from when it was queued", async () => {
    const p = pool(threads());
    await p.ready();
    const first = run(p, { op: "spin" }, { limitMs: 500 });
    const second = run(p, { op: "echo", value: "queued" }, { limitMs: 300 });
    await expect(first).rejects.toMatchObject({ code: "TOOL_TIMEOUT" });
    await expect(second).resolves.toBe("queued");
  });
});
