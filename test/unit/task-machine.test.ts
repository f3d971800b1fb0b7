import { Plan, type StepResult, type TaskState } from "@baton/contracts";
import { applyResult, failTask, newTaskState, pendingEffects, startTask } from "@baton/supervisor";
import { describe, expect, it } from "vitest";

const now = new Date("2026-11-22T00:00:00.000Z");
const call = (args: Record<string, unknown> = { expression: "1" }) => [{ tool: "evaluate_expression", args }];

function task(plan: unknown): TaskState {
  return newTaskState({ taskId: "t1", goal: "g", plan: Plan.parse(plan), acceptedAt: now, timeoutMs: 60_000 });
}

function result(stepId: string, status: "completed" | "failed", output?: unknown, attempt = 1): StepResult {
  return {
    schemaVersion: 1,
    kind: "step",
    taskId: "t1",
    stepId,
    agent: "code",
    dispatchId: "not-the-dispatch",
    status,
    ...(output === undefined ? {} : { output }),
    toolCalls: [],
    ...(status === "failed" ? { error: { code: "TOOL_FAILED" as const, message: "boom", retryable: false } } : {}),
    attempt,
    worker: "w",
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    durationMs: 1,
    usage: { toolCalls: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 },
  };
}

/** The dispatch id a result of this step (or compensation) must carry, as the worker would copy it from the work. */
function dispatchOf(state: TaskState, r: StepResult): string {
  const id =
    r.kind === "compensation" ? state.compensations?.find((c) => c.stepId === r.stepId)?.dispatchId : state.steps[r.stepId]?.dispatchId;
  return id ?? "never-dispatched";
}

/** `applyResult` with the result carrying the current dispatch's id. */
const apply = (state: TaskState, r: StepResult, at: Date) => applyResult(state, { ...r, dispatchId: dispatchOf(state, r) }, at);

const diamond = {
  steps: [
    { id: "a", agent: "code", instruction: "a", toolCalls: call() },
    { id: "b", agent: "code", instruction: "b", toolCalls: call() },
    { id: "c", agent: "code", instruction: "c", dependsOn: ["a", "b"], toolCalls: call({ expression: { $fromStep: "a", path: "/x" } }) },
  ],
};

describe("the task state machine", () => {
  it("dispatches independent steps together and a dependent once all its dependencies completed", () => {
    const start = startTask(task(diamond), now);
    expect(start.dispatch.map((w) => w.stepId)).toEqual(["a", "b"]);
    const afterA = apply(start.state, result("a", "completed", { x: "2+2" }), now);
    expect(afterA?.dispatch).toEqual([]);
    const afterB = apply(afterA?.state as TaskState, result("b", "completed", 5), now);
    expect(afterB?.dispatch.map((w) => w.stepId)).toEqual(["c"]);
    const c = afterB?.dispatch[0];
    expect(c?.toolCalls[0]?.args).toEqual({ expression: "2+2" }); // reference resolved
    expect(c?.inputs).toEqual({ a: { x: "2+2" }, b: 5 });
    const done = apply(afterB?.state as TaskState, result("c", "completed", 4), now);
    expect(done?.synthesize).toBe(true);
    expect(done?.state.status).toBe("synthesizing");
  });

  it("ignores a duplicate or stale result", () => {
    const start = startTask(task(diamond), now);
    const once = apply(start.state, result("a", "completed", { x: "1" }), now);
    expect(apply(once?.state as TaskState, result("a", "completed", { x: "1" }), now)).toBeUndefined();
    expect(apply(start.state, result("b", "completed", 1, 7), now)).toBeUndefined();
  });

  it("ignores a result without the current dispatch's id, or from another agent than the step's", () => {
    const start = startTask(task(diamond), now);
    const dispatchId = start.state.steps.a?.dispatchId;
    expect(dispatchId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(start.dispatch.find((w) => w.stepId === "a")?.dispatchId).toBe(dispatchId);
    expect(applyResult(start.state, result("a", "completed", { x: "1" }), now)).toBeUndefined();
    expect(
      applyResult(start.state, { ...result("a", "completed", { x: "1" }), dispatchId: dispatchId ?? "", agent: "data" }, now),
    ).toBeUndefined();
    expect(applyResult(start.state, { ...result("a", "completed", { x: "1" }), dispatchId: dispatchId ?? "" }, now)).toBeDefined();
  });

  it("fails fast: the task fails with the failing step and pending steps are skipped", () => {
    const start = startTask(task(diamond), now);
    const failed = apply(start.state, result("a", "failed"), now);
    expect(failed?.fail).toBe(true);
    expect(failed?.state.failedStep).toBe("a");
    expect(failed?.state.error?.code).toBe("STEP_FAILED");
    expect(failed?.state.steps.c?.status).toBe("skipped");
    expect(failed?.events.at(-1)?.type).toBe("failed");
  });

  it("continues: dependents of a failed step are skipped, the rest synthesized", () => {
    const start = startTask(task({ ...diamond, failurePolicy: "continue" }), now);
    const a = apply(start.state, result("a", "failed"), now);
    expect(a?.state.steps.c?.status).toBe("skipped");
    const b = apply(a?.state as TaskState, result("b", "completed", 1), now);
    expect(b?.synthesize).toBe(true);
  });

  it("fails a step whose reference matches nothing, without dispatching it", () => {
    const start = startTask(task(diamond), now);
    const a = apply(start.state, result("a", "completed", { y: 1 }), now);
    const b = apply(a?.state as TaskState, result("b", "completed", 1), now);
    expect(b?.dispatch).toEqual([]);
    expect(b?.state.steps.c?.outcome?.error?.code).toBe("UNRESOLVED_REFERENCE");
    expect(b?.fail).toBe(true);
  });

  it("replays the pending side effects of a stored state", () => {
    const start = startTask(task(diamond), now);
    const replay = pendingEffects(start.state);
    expect(replay.dispatch.map((w) => [w.stepId, w.attempt])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    expect(replay.events).toEqual([]);
  });

  it("fails a running task on demand and only once", () => {
    const start = startTask(task(diamond), now);
    const failed = failTask(start.state, { code: "TASK_TIMEOUT", message: "late", retryable: false }, now);
    expect(failed?.state.status).toBe("failed");
    expect(failTask(failed?.state as TaskState, { code: "TASK_TIMEOUT", message: "late", retryable: false }, now)).toBeUndefined();
  });

  it("compensates completed steps in reverse order of completion after a failure, then fails the task (saga)", () => {
    const comp = { tool: "evaluate_expression", args: { expression: "0" } };
    const plan = {
      steps: [
        {
          id: "reserve",
          agent: "code",
          instruction: "r",
          toolCalls: call(),
          compensation: { ...comp, args: { expression: { $fromStep: "reserve", path: "/x" } } },
        },
        { id: "charge", agent: "code", instruction: "c", dependsOn: ["reserve"], toolCalls: call(), compensation: comp },
        { id: "ship", agent: "code", instruction: "s", dependsOn: ["charge"], toolCalls: call() },
      ],
    };
    const later = new Date(now.getTime() + 1_000);
    const s0 = startTask(task(plan), now).state;
    const s1 = apply(s0, result("reserve", "completed", { x: "undo 1" }), now)?.state as TaskState;
    const charged = { ...result("charge", "completed", 2), finishedAt: later.toISOString() };
    const s2 = apply(s1, charged, now)?.state as TaskState;
    const failed = apply(s2, result("ship", "failed"), now);
    expect(failed?.state.status).toBe("compensating");
    expect(failed?.fail).toBe(false);
    expect(failed?.events.map((e) => e.type)).toEqual(["step.failed", "compensating"]);
    expect(failed?.dispatch.map((w) => [w.kind, w.stepId])).toEqual([["compensation", "charge"]]);
    const c1 = apply(failed?.state as TaskState, { ...result("charge", "completed", 0), kind: "compensation" }, now);
    const undoReserve = c1?.dispatch[0];
    expect([undoReserve?.kind, undoReserve?.stepId]).toEqual(["compensation", "reserve"]);
    expect(undoReserve?.toolCalls[0]?.args).toEqual({ expression: "undo 1" });
    const c2 = apply(c1?.state as TaskState, { ...result("reserve", "failed"), kind: "compensation" }, now);
    expect(c2?.fail).toBe(true);
    expect(c2?.state.status).toBe("failed");
    expect(c2?.state.compensations?.map((c) => [c.stepId, c.status])).toEqual([
      ["charge", "completed"],
      ["reserve", "failed"],
    ]);
    expect(c2?.state.failedStep).toBe("ship");
  });
});
