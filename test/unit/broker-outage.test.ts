import { Plan, type TaskState } from "@baton/contracts";
import { BatonError, dispatchStanding, isBrokerUnavailable, isTaskEnded, retryWhileUnavailable, TransientError } from "@baton/core";
import { errors } from "@nats-io/transport-node";
import { newTaskState, startTask } from "@baton/supervisor";
import { describe, expect, it } from "vitest";
import { eventsAfterTerminal } from "../chaos/support/report.ts";

const now = new Date("2026-11-30T00:00:00.000Z");

function running(): TaskState {
  const plan = Plan.parse({
    steps: [
      { id: "a", agent: "code", instruction: "a", toolCalls: [{ tool: "t", args: {} }] },
      { id: "b", agent: "code", instruction: "b", dependsOn: ["a"], toolCalls: [{ tool: "t", args: {} }] },
    ],
  });
  return startTask(newTaskState({ taskId: "t1", goal: "g", plan, acceptedAt: now, timeoutMs: 60_000 }), now).state;
}

describe("isBrokerUnavailable: the one place a NATS failure is called a passing outage", () => {
  it("takes timeouts, dropped connections, no responders and JetStream restarting for outages", () => {
    expect(isBrokerUnavailable(new errors.TimeoutError())).toBe(true);
    expect(isBrokerUnavailable(new errors.RequestError("connection disconnected"))).toBe(true);
    expect(isBrokerUnavailable(new errors.NoRespondersError("$JS.API.INFO"))).toBe(true);
    // As @nats-io/jetstream throws it (the class is not exported) for no responders on the JS API.
    const notEnabled = Object.assign(new Error("jetstream is not enabled"), { name: "JetStreamNotEnabled" });
    expect(isBrokerUnavailable(notEnabled)).toBe(true);
    expect(isBrokerUnavailable(new Error("JetStream system temporarily unavailable"))).toBe(true);
  });
  it("does not take conflicts, permissions, a closing connection or Baton's own errors for outages", () => {
    expect(isBrokerUnavailable(new Error("wrong last sequence: 7"))).toBe(false);
    expect(isBrokerUnavailable(new errors.ClosedConnectionError())).toBe(false);
    expect(isBrokerUnavailable(new errors.PermissionViolationError("Permissions Violation for Publish to x", "publish", "x"))).toBe(false);
    expect(isBrokerUnavailable(new TransientError("timeout somewhere"))).toBe(false);
    expect(isBrokerUnavailable(new TypeError("x is not a function"))).toBe(false);
    expect(isBrokerUnavailable("timeout")).toBe(false);
  });
});

describe("retryWhileUnavailable", () => {
  it("runs the operation again after an outage and returns its result", async () => {
    let calls = 0;
    const value = await retryWhileUnavailable(
      async () => {
        calls++;
        if (calls < 3) throw new errors.TimeoutError();
        return "ok";
      },
      { what: "test", initialDelayMs: 1 },
    );
    expect([value, calls]).toEqual(["ok", 3]);
  });
  it("throws other errors at once, unchanged", async () => {
    let calls = 0;
    const conflict = new Error("wrong last sequence: 3");
    await expect(
      retryWhileUnavailable(
        async () => {
          calls++;
          throw conflict;
        },
        { what: "test" },
      ),
    ).rejects.toBe(conflict);
    expect(calls).toBe(1);
  });
  it("gives up with a retryable TransientError once its time is spent", async () => {
    const error = await retryWhileUnavailable(
      async () => {
        throw new errors.TimeoutError();
      },
      { what: "read x", forMs: 50, initialDelayMs: 10 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as BatonError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/could not read x: the broker is unavailable/);
  });
});

describe("dispatchStanding: whether a work message is still wanted", () => {
  it("is current for the step's dispatch, stale for an older attempt or a finished step, unknown when the state is behind", () => {
    const state = running();
    const a = state.steps.a;
    if (!a?.dispatchId) throw new Error("step a not dispatched");
    const work = { stepId: "a", dispatchId: a.dispatchId, attempt: a.attempt, kind: "step" as const };
    expect(dispatchStanding(state, work)).toBe("current");
    expect(dispatchStanding(state, { ...work, dispatchId: "older-dispatch-id" })).toBe("stale");
    expect(dispatchStanding(state, { ...work, dispatchId: "newer-dispatch-id", attempt: a.attempt + 1 })).toBe("unknown");
    // b is pending (never dispatched): a message for it means the state lost its dispatch.
    expect(dispatchStanding(state, { stepId: "b", dispatchId: "x", attempt: 1 })).toBe("unknown");
    const done = structuredClone(state);
    if (done.steps.a) done.steps.a.status = "completed";
    expect(dispatchStanding(done, work)).toBe("stale");
  });
  it("is stale for every message of an ended task, and for step work of a synthesizing or compensating one", () => {
    const state = running();
    const work = { stepId: "a", dispatchId: state.steps.a?.dispatchId ?? "", attempt: 1 };
    for (const status of ["completed", "failed", "synthesizing", "compensating"] as const) {
      expect(dispatchStanding({ ...state, status }, work), status).toBe("stale");
    }
    expect(isTaskEnded({ status: "failed" })).toBe(true);
    expect(isTaskEnded({ status: "completed" })).toBe(true);
    expect(isTaskEnded({ status: "compensating" })).toBe(false);
    // A compensation's work while the task compensates: current when it is the dispatched one.
    const compensating: TaskState = {
      ...state,
      status: "compensating",
      compensations: [{ stepId: "a", agent: "code", status: "dispatched", attempt: 1, dispatchId: "comp-dispatch-1" }],
    };
    const comp = { stepId: "a", dispatchId: "comp-dispatch-1", attempt: 1, kind: "compensation" as const };
    expect(dispatchStanding(compensating, comp)).toBe("current");
    expect(dispatchStanding(compensating, { ...comp, dispatchId: "comp-dispatch-0", attempt: 0 })).toBe("stale");
    expect(dispatchStanding({ ...compensating, status: "failed" }, comp)).toBe("stale");
  });
});

describe("eventsAfterTerminal (chaos report)", () => {
  it("finds events stored after a task's completed or failed event, but not a resubmission's answer", () => {
    const late = eventsAfterTerminal([
      { type: "step.completed", taskId: "t1", stepId: "a" },
      { type: "failed", taskId: "t1" },
      { type: "step.failed", taskId: "t1", stepId: "b" },
      { type: "resubmitted", taskId: "t1" },
      { type: "completed", taskId: "t2" },
    ]);
    expect(late).toEqual([{ type: "step.failed", taskId: "t1", stepId: "b" }]);
  });
});
