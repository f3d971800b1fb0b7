import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useStackWithClient } from "../support/fixture.ts";
import { ROOT } from "../support/services.ts";

// A DuckDB query of several seconds: long enough to be cancelled or timed out mid-step, and
// interruptible (the data agent wires the step's AbortSignal to DuckDB's interrupt).
const SLOW_SQL =
  "SELECT count(*) AS n FROM seattle_weather a, seattle_weather b, seattle_weather c WHERE a.temp_max > b.temp_max AND b.temp_min < c.temp_min";

const slowPlan = {
  steps: [
    { id: "slow", agent: "data", instruction: "a slow query", toolCalls: [{ tool: "sql_query", args: { sql: SLOW_SQL } }] },
    {
      id: "after",
      agent: "code",
      instruction: "never runs",
      dependsOn: ["slow"],
      toolCalls: [{ tool: "evaluate_expression", args: { expression: "1+1" } }],
    },
  ],
};

describe("cancellation and deadlines", () => {
  const fx = useStackWithClient();

  it("`baton cancel` fails a running task with CANCELLED, aborts its in-flight step and dispatches nothing more", async () => {
    const taskId = `cancel-${Date.now()}`;
    const events = fx.client.watch(taskId);
    await fx.client.submit({ taskId, goal: "to be cancelled", plan: slowPlan });
    await waitFor(() => events.some((e) => e.type === "step.started"));
    const started = Date.now();
    const creds = (await fx.stack.credentials({ kind: "client" })) ?? "";
    const cli = await promisify(execFile)(
      process.execPath,
      [join(ROOT, "cli", "src", "main.ts"), "cancel", "--nats", fx.stack.nats.url, "--creds", creds, taskId, "--reason", "user asked"],
      { encoding: "utf8" },
    );
    expect(cli.stdout).toContain(`cancellation of ${taskId} requested`);
    const outcome = await fx.client.outcome(taskId, 20_000);
    expect(outcome.status).toBe("failed");
    expect(outcome.value).toMatchObject({ error: { code: "CANCELLED", message: "cancelled: user asked" } });
    expect(Date.now() - started).toBeLessThan(5_000);
    // The data agent aborted the step (the query was interrupted), and "after" never ran.
    const worker = fx.stack.services.find((s) => s.name === "data-agent");
    await worker?.waitForLog((l) => l.taskId === taskId && l.msg === "step aborted: its task was cancelled or timed out", 10_000);
    expect(events.some((e) => e.type === "step.dispatched" && e.stepId === "after")).toBe(false);
    expect(outcome.value.steps.find((s) => s.stepId === "after")?.status).toBe("skipped");
  });

  it("fails a task past its deadline with TASK_TIMEOUT", async () => {
    const taskId = `deadline-${Date.now()}`;
    const started = Date.now();
    await fx.client.submit({ taskId, goal: "too slow", timeoutMs: 1_500, plan: slowPlan });
    const outcome = await fx.client.outcome(taskId, 20_000);
    expect(outcome.status).toBe("failed");
    expect(outcome.status === "failed" && outcome.value.error.code).toBe("TASK_TIMEOUT");
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("ignores a cancellation of a finished task", async () => {
    const taskId = `done-${Date.now()}`;
    const quick = {
      id: "quick",
      agent: "code",
      instruction: "add",
      toolCalls: [{ tool: "evaluate_expression", args: { expression: "1+1" } }],
    };
    await fx.client.submit({ taskId, goal: "quick", plan: { steps: [quick] } });
    expect((await fx.client.outcome(taskId)).status).toBe("completed");
    await fx.client.js.publish("tasks.cancel", JSON.stringify({ taskId }));
    const supervisor = fx.stack.services.find((s) => s.name === "supervisor");
    await supervisor?.waitForLog((l) => l.taskId === taskId && l.msg === "cancellation of an unknown or finished task ignored", 10_000);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
