import { KvMemoryStore } from "@baton/memory";
import { describe, expect, it } from "vitest";
import { examplePlan } from "../support/client.ts";
import { useStackWithClient } from "../support/fixture.ts";

// The example plan end to end: a real nats-server, the five services as real processes, and a
// plain NATS client submitting on tasks.submit as any client would.
describe("a task end to end through supervisor, three agents and synthesizer", () => {
  const fx = useStackWithClient();

  it("runs the example plan on real data and publishes exactly one completed outcome", async () => {
    const taskId = `example-${Date.now()}`;
    const events = fx.client.watch(taskId);
    await fx.client.submit({ taskId, ...examplePlan() });
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    const { value } = outcome;
    expect(value.steps.map((s) => s.status)).toEqual(Array(6).fill("completed"));
    const byId = Object.fromEntries(value.steps.map((s) => [s.stepId, s]));

    // Real data: 12 months of Seattle weather, 4 years; the code step derived from both.
    const monthly = byId.monthly_climate?.output as { rows: { name: string; avg_high_c: number }[] };
    expect(monthly.rows).toHaveLength(12);
    const yearly = byId.yearly_weather?.output as { rows: { year: number }[] };
    expect(yearly.rows.map((r) => r.year)).toEqual([2012, 2013, 2014, 2015]);
    const stats = (byId.climate_stats?.output as { result: Record<string, unknown> } | undefined)?.result ?? {};
    const warmest = monthly.rows.reduce((a, b) => (b.avg_high_c > a.avg_high_c ? b : a));
    expect(stats.warmest_month).toBe(warmest.name);
    // The step that consumed another's output through a $fromStep reference.
    const fahrenheit = (byId.warmest_in_f?.output as { result: number } | undefined)?.result;
    expect(fahrenheit).toBeCloseTo((warmest.avg_high_c * 9) / 5 + 32, 1);
    const doc = byId.read_csv_docs?.output as { id: string; text: string };
    expect(doc.id).toMatch(/^readline#/);
    expect(doc.text).toContain("createInterface");

    expect(value.answer).toContain("# Seattle weather 2012-2015 brief");
    expect(value.answer).toContain("| monthly_climate | data |");
    expect(value.answer).toContain(`warmest_month**: ${warmest.name}`);
    expect(value.usage.toolCalls).toBe(6);
    expect(value.timings.durationMs).toBeGreaterThan(0);

    // Lifecycle events: the full sequence, with every dependency finished before its dependent starts.
    await waitUntil(() => events.some((e) => e.type === "completed"));
    const types = events.map((e) => e.type);
    expect(types[0]).toBe("accepted");
    expect(types[1]).toBe("planned");
    for (const kind of ["step.dispatched", "step.started", "step.completed"]) {
      expect(types.filter((t) => t === kind)).toHaveLength(6);
    }
    expect(types.filter((t) => t === "synthesizing")).toHaveLength(1);
    expect(types.filter((t) => t === "completed")).toHaveLength(1);
    const position = (type: string, stepId: string) => events.findIndex((e) => e.type === type && "stepId" in e && e.stepId === stepId);
    expect(position("step.dispatched", "climate_stats")).toBeGreaterThan(position("step.completed", "monthly_climate"));
    expect(position("step.dispatched", "climate_stats")).toBeGreaterThan(position("step.completed", "yearly_weather"));
    expect(position("step.dispatched", "read_csv_docs")).toBeGreaterThan(position("step.completed", "find_csv_docs"));
    // The three independent steps were dispatched together, before any of them completed.
    const firstCompleted = types.indexOf("step.completed");
    for (const id of ["monthly_climate", "yearly_weather", "find_csv_docs"]) {
      expect(position("step.dispatched", id)).toBeLessThan(firstCompleted);
    }

    // The memory summary is in the embedded store and found by a search on the goal's words.
    const memory = await KvMemoryStore.open(fx.client.nc);
    const summary = await memory.get(taskId);
    expect(summary?.agents.sort()).toEqual(["code", "data", "research"]);
    expect((await memory.search("Seattle weather climate", 3)).map((m) => m.taskId)).toContain(taskId);
    await memory.close();
  });

  it("runs a taskId submitted twice once", async () => {
    const taskId = `twice-${Date.now()}`;
    const events = fx.client.watch(taskId);
    const submission = {
      taskId,
      goal: "count cars",
      plan: {
        steps: [
          {
            id: "n",
            agent: "data",
            instruction: "count",
            toolCalls: [{ tool: "sql_query", args: { sql: "SELECT count(*) AS n FROM cars" } }],
          },
        ],
      },
    };
    await fx.client.submit(submission);
    await fx.client.submit(submission);
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("completed");
    await fx.client.submit(submission); // again after completion
    await new Promise((r) => setTimeout(r, 1_500));
    expect(events.filter((e) => e.type === "accepted")).toHaveLength(1);
    expect(events.filter((e) => e.type === "step.started")).toHaveLength(1);
    expect(events.filter((e) => e.type === "completed")).toHaveLength(1);
  });

  it("fails a task whose step is refused, names the step and skips its dependents", async () => {
    const taskId = `refused-${Date.now()}`;
    await fx.client.submit({
      taskId,
      goal: "try to delete data",
      plan: {
        steps: [
          { id: "wipe", agent: "data", instruction: "delete", toolCalls: [{ tool: "sql_query", args: { sql: "DELETE FROM cars" } }] },
          {
            id: "after",
            agent: "code",
            instruction: "never runs",
            dependsOn: ["wipe"],
            toolCalls: [{ tool: "evaluate_expression", args: { expression: "1+1" } }],
          },
        ],
      },
    });
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("wipe");
    expect(outcome.value.error.code).toBe("STEP_FAILED");
    const wipe = outcome.value.steps.find((s) => s.stepId === "wipe");
    expect(wipe?.error?.code).toBe("TOOL_REFUSED");
    expect(outcome.value.steps.find((s) => s.stepId === "after")?.status).toBe("skipped");
  });

  it("rejects arguments that fail the tool's input schema at submission, naming the field", async () => {
    const taskId = `badargs-${Date.now()}`;
    await fx.client.submit({
      taskId,
      goal: "bad arguments",
      plan: {
        steps: [{ id: "calc", agent: "code", instruction: "x", toolCalls: [{ tool: "evaluate_expression", args: { expression: 42 } }] }],
      },
    });
    const rejection = await fx.client.waitForRejection((r) => r.taskId === taskId);
    expect(rejection.error.code).toBe("INVALID_ARGUMENTS");
    expect(rejection.error.issues?.[0]?.path).toBe("plan.steps.0.toolCalls.0.args.expression");
  });

  it("reports arguments that become invalid once a reference is resolved as a structured tool error in the step result", async () => {
    const taskId = `badref-${Date.now()}`;
    await fx.client.submit({
      taskId,
      goal: "bad resolved arguments",
      plan: {
        steps: [
          {
            id: "num",
            agent: "code",
            instruction: "a number",
            toolCalls: [{ tool: "evaluate_expression", args: { expression: "6 * 7" } }],
          },
          {
            id: "calc",
            agent: "code",
            instruction: "x",
            dependsOn: ["num"],
            // The whole output (an object) where the tool wants a string: only the worker can tell.
            toolCalls: [{ tool: "evaluate_expression", args: { expression: { $fromStep: "num" } } }],
          },
        ],
      },
    });
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("failed");
    const calc = outcome.value.steps.find((s) => s.stepId === "calc");
    expect(calc?.error?.code).toBe("INVALID_ARGUMENTS");
    const call = calc?.toolCalls[0];
    expect(call?.ok).toBe(false);
    if (call && !call.ok) expect(call.error.issues?.[0]?.path).toBe("args.expression");
  });

  it("continues past a failed step under the continue policy and synthesizes the partial results", async () => {
    const taskId = `continue-${Date.now()}`;
    await fx.client.submit({
      taskId,
      goal: "partial results",
      plan: {
        failurePolicy: "continue",
        steps: [
          {
            id: "bad",
            agent: "data",
            instruction: "unknown table",
            toolCalls: [{ tool: "sql_query", args: { sql: "SELECT * FROM no_such_table" } }],
          },
          {
            id: "good",
            agent: "data",
            instruction: "count",
            toolCalls: [{ tool: "sql_query", args: { sql: "SELECT count(*) AS n FROM penguins" } }],
          },
        ],
      },
    });
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    expect(outcome.value.steps.map((s) => s.status)).toEqual(["failed", "completed"]);
    expect(outcome.value.answer).toContain("**Failed** — TOOL_FAILED");
    expect(outcome.value.answer).toContain("| 344 |");
  });
});

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
