import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { ROOT, startService, startStack, type ServiceProcess, type TestStack } from "../support/services.ts";

// Two replicas of the data agent share its one durable consumer with no extra configuration.
describe("scaling a worker service", () => {
  let stack: TestStack;
  let client: TestClient;
  let second: ServiceProcess;

  beforeAll(async () => {
    stack = await startStack({ services: ["supervisor", "synthesizer", "data-agent"] });
    second = await startService("data-agent", stack.env);
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await second?.stop();
    await stack?.stop();
  });

  it("spreads the steps of several tasks over both replicas, each step run once", async () => {
    // A self-join makes each step take long enough (tens of ms) that both replicas get work.
    const slow = "SELECT count(*) AS pairs FROM seattle_weather a, seattle_weather b WHERE a.temp_max > b.temp_max";
    const taskIds = Array.from({ length: 6 }, (_, i) => `replicas-${Date.now()}-${i}`);
    const events = new Map(taskIds.map((id) => [id, client.watch(id)]));
    await Promise.all(
      taskIds.map((taskId) =>
        client.submit({
          taskId,
          goal: "parallel data steps",
          plan: {
            steps: ["a", "b", "c", "d"].map((id) => ({
              id,
              agent: "data",
              instruction: "self-join",
              toolCalls: [{ tool: "sql_query", args: { sql: slow } }],
            })),
          },
        }),
      ),
    );
    const outcomes = await Promise.all(taskIds.map((id) => client.outcome(id)));
    expect(outcomes.map((o) => o.status)).toEqual(Array(6).fill("completed"));
    const workers = outcomes.flatMap((o) => o.value.steps.map((s) => s.worker));
    const perWorker = new Map<string, number>();
    for (const w of workers) perWorker.set(String(w), (perWorker.get(String(w)) ?? 0) + 1);
    expect([...perWorker.keys()].sort()).toHaveLength(2);
    for (const count of perWorker.values()) expect(count).toBeGreaterThan(0);
    console.log(`steps per replica: ${JSON.stringify(Object.fromEntries(perWorker))}`);
    for (const [id, list] of events) {
      const started = list.filter((e) => e.type === "step.started");
      expect(started, id).toHaveLength(4);
    }
  });

  it("stops a replica gracefully on SIGTERM with exit code 0", async () => {
    const extra = await startService("data-agent", stack.env);
    const { code, signal } = await extra.stop();
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(extra.logs.some((l) => l.msg === "stopped")).toBe(true);
  });

  it("refuses to start with a bad environment and names the variable", () => {
    const run = spawnSync(process.execPath, [join(ROOT, "services", "data-agent", "src", "main.ts")], {
      env: { ...process.env, NATS_URL: stack.nats.url, WORKER_CONCURRENCY: "lots" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("WORKER_CONCURRENCY");
    expect(run.stderr).toContain('"lots"');
  });
});
