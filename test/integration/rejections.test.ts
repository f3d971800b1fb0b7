import { describe, expect, it } from "vitest";
import { useStackWithClient } from "../support/fixture.ts";

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  agent: "code",
  instruction: "add",
  toolCalls: [{ tool: "evaluate_expression", args: { expression: "1+1" } }],
  ...extra,
});

// Malformed submissions each yield tasks.rejected with the reason and field paths; the
// services neither crash nor stop serving.
describe("malformed submissions", () => {
  const fx = useStackWithClient();

  it("rejects invalid JSON", async () => {
    await fx.client.submitRaw("{ this is not json");
    const r = await fx.client.waitForRejection((x) => x.error.code === "INVALID_JSON");
    expect(r.taskId).toBeNull();
    expect(r.receivedBytes).toBe(18);
  });

  it("rejects a submission without a goal, naming the field", async () => {
    await fx.client.submit({ taskId: "no-goal", plan: { steps: [step("a")] } });
    const r = await fx.client.waitForRejection((x) => x.taskId === "no-goal");
    expect(r.error.code).toBe("VALIDATION_FAILED");
    expect(r.error.issues?.map((i) => i.path)).toContain("goal");
  });

  it("rejects a cyclic plan with the cycle spelled out", async () => {
    await fx.client.submit({
      taskId: "cyclic",
      goal: "cycle",
      plan: { steps: [step("a", { dependsOn: ["c"] }), step("b", { dependsOn: ["a"] }), step("c", { dependsOn: ["b"] })] },
    });
    const r = await fx.client.waitForRejection((x) => x.taskId === "cyclic");
    expect(r.error.code).toBe("VALIDATION_FAILED");
    expect(r.error.issues?.[0]?.path).toBe("plan.steps.0.dependsOn");
    expect(r.error.issues?.[0]?.message).toContain("a -> c -> b -> a");
  });

  it("rejects an unknown agent", async () => {
    await fx.client.submit({ taskId: "bad-agent", goal: "x", plan: { steps: [step("a", { agent: "finance" })] } });
    const r = await fx.client.waitForRejection((x) => x.taskId === "bad-agent");
    expect(r.error.issues?.map((i) => i.path)).toEqual(["plan.steps.0.agent"]);
  });

  it("rejects unknown dependencies, duplicate ids and references to non-ancestors", async () => {
    await fx.client.submit({
      taskId: "bad-dag",
      goal: "x",
      plan: {
        steps: [
          step("a", { dependsOn: ["ghost"] }),
          step("a"),
          step("b", { toolCalls: [{ tool: "evaluate_expression", args: { expression: { $fromStep: "a" } } }] }),
        ],
      },
    });
    const r = await fx.client.waitForRejection((x) => x.taskId === "bad-dag");
    const paths = r.error.issues?.map((i) => i.path) ?? [];
    expect(paths).toContain("plan.steps.1.id");
    expect(paths).toContain("plan.steps.0.dependsOn.0");
  });

  it("rejects a 2 MB payload without reading it as a task", async () => {
    await fx.client.submitRaw(JSON.stringify({ taskId: "huge", goal: "x".repeat(2 * 1024 * 1024) }));
    const r = await fx.client.waitForRejection((x) => x.error.code === "PAYLOAD_TOO_LARGE");
    expect(r.receivedBytes).toBeGreaterThan(2 * 1024 * 1024);
    expect(r.error.message).toContain("MAX_SUBMISSION_BYTES");
  });

  it("rejects a goal without a plan while no LLM planner is configured, saying so", async () => {
    await fx.client.submit({ taskId: "goal-only", goal: "plan this for me" });
    const r = await fx.client.waitForRejection((x) => x.taskId === "goal-only");
    expect(r.error.code).toBe("PLANNER_UNAVAILABLE");
    expect(r.error.message).toContain("no LLM planner is configured");
  });

  it("rejects a step without tool calls while no LLM worker is configured", async () => {
    await fx.client.submit({ taskId: "no-tools", goal: "x", plan: { steps: [step("a", { toolCalls: [] })] } });
    const r = await fx.client.waitForRejection((x) => x.taskId === "no-tools");
    expect(r.error.code).toBe("LLM_UNAVAILABLE");
    expect(r.error.issues?.[0]?.path).toBe("plan.steps.0.toolCalls");
  });

  it("rejects a taskId that cannot be a subject token", async () => {
    await fx.client.submit({ taskId: "a.b*", goal: "x", plan: { steps: [step("a")] } });
    const r = await fx.client.waitForRejection((x) => x.taskId === "a.b*");
    expect(r.error.issues?.[0]?.path).toBe("taskId");
  });

  it("keeps serving: every service is alive and a valid task still completes", async () => {
    for (const s of fx.stack.services) expect(s.process.exitCode, s.name).toBeNull();
    const taskId = `after-bad-input-${Date.now()}`;
    await fx.client.submit({ taskId, goal: "still works", plan: { steps: [step("a")] } });
    const outcome = await fx.client.outcome(taskId);
    expect(outcome.status).toBe("completed");
  });
});
