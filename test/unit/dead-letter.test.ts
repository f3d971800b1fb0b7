import {
  DEAD_LETTER_HEADERS,
  type DeadLetterRecord,
  deadLetterHeaders,
  isCarriedHeader,
  MaxDeliveriesAdvisory,
  Plan,
  readDeadLetterHeaders,
  type StepResult,
  subjects,
  ZERO_USAGE,
} from "@baton/contracts";
import { applyResult, newTaskState, startTask } from "@baton/supervisor";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { classifyDeadLetter, copyHeaders } from "../../services/supervisor/src/dead-letters/index.ts";

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

const record: DeadLetterRecord = {
  schemaVersion: 1,
  stream: "BATON_WORK",
  consumer: "data-agent",
  streamSeq: 42,
  subject: "work.data.t1.s1",
  deliveries: 5,
  deadLetteredAt: "2026-11-22T00:00:00.000Z",
  taskId: "t1",
  stepId: "s1",
};

describe("dead-letter contract", () => {
  it("carries the record in Baton-Dlq-* headers and reads it back", () => {
    const headers = deadLetterHeaders(record);
    expect(headers).toEqual({
      "Baton-Dlq-Schema-Version": "1",
      "Baton-Dlq-Stream": "BATON_WORK",
      "Baton-Dlq-Consumer": "data-agent",
      "Baton-Dlq-Stream-Seq": "42",
      "Baton-Dlq-Subject": "work.data.t1.s1",
      "Baton-Dlq-Deliveries": "5",
      "Baton-Dlq-At": "2026-11-22T00:00:00.000Z",
      "Baton-Dlq-Task-Id": "t1",
      "Baton-Dlq-Step-Id": "s1",
    });
    const back = readDeadLetterHeaders((h) => headers[h]);
    expect(back.success && back.data).toEqual(record);
  });

  it("refuses headers that are missing or malformed", () => {
    const headers: Record<string, string> = { ...deadLetterHeaders(record), [DEAD_LETTER_HEADERS.streamSeq]: "x" };
    expect(readDeadLetterHeaders((h) => headers[h]).success).toBe(false);
    expect(readDeadLetterHeaders(() => undefined).success).toBe(false);
  });

  it("keeps the original headers on a dead letter except JetStream's and its own", () => {
    expect(isCarriedHeader("traceparent")).toBe(true);
    expect(isCarriedHeader("Baton-Task-Id")).toBe(true);
    expect(isCarriedHeader("Nats-Msg-Id")).toBe(false);
    expect(isCarriedHeader("Nats-Expected-Last-Sequence")).toBe(false);
    expect(isCarriedHeader("baton-dlq-stream")).toBe(false);
    const source = natsHeaders();
    source.set("traceparent", "00-abc-def-01");
    source.append("X-Multi", "a");
    source.append("X-Multi", "b");
    source.set("Nats-Msg-Id", "work-t1-s1-1");
    source.set("Baton-Dlq-Stream", "BATON_WORK");
    const copy = copyHeaders(source);
    expect(copy.keys().sort()).toEqual(["X-Multi", "traceparent"]);
    expect(copy.values("X-Multi")).toEqual(["a", "b"]);
  });

  it("parses the server's MAX_DELIVERIES advisory", () => {
    const advisory = {
      type: "io.nats.jetstream.advisory.v1.max_deliver",
      id: "abc",
      timestamp: "2026-11-22T00:00:00.123456789Z",
      stream: "BATON_WORK",
      consumer: "data-agent",
      stream_seq: 7,
      deliveries: 5,
      domain: "hub",
    };
    expect(MaxDeliveriesAdvisory.parse(advisory)).toMatchObject({ stream: "BATON_WORK", consumer: "data-agent", stream_seq: 7 });
    expect(MaxDeliveriesAdvisory.safeParse({ ...advisory, type: "io.nats.jetstream.advisory.v1.terminated" }).success).toBe(false);
    expect(subjects.maxDeliveriesAdvisory("BATON_WORK", "data-agent")).toBe(
      "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.BATON_WORK.data-agent",
    );
    expect(subjects.deadLetter("BATON_WORK", "data-agent", 7)).toBe("dlq.BATON_WORK.data-agent.7");
  });
});

describe("classifying a dead letter", () => {
  it("tells work, submissions, results and synthesis requests apart", () => {
    const none = new Uint8Array();
    expect(classifyDeadLetter("BATON_WORK", "work.data.t1.s1", none)).toEqual({ kind: "work", agent: "data", taskId: "t1", stepId: "s1" });
    expect(classifyDeadLetter("BATON_SUBMISSIONS", "tasks.submit", encode({ taskId: "t2", goal: "g" }))).toEqual({
      kind: "submission",
      taskId: "t2",
    });
    expect(classifyDeadLetter("BATON_SUBMISSIONS", "tasks.submit", new TextEncoder().encode("{not json"))).toEqual({
      kind: "submission",
    });
    expect(classifyDeadLetter("BATON_SUBMISSIONS", "tasks.submit", encode({ taskId: "bad.id" }))).toEqual({ kind: "submission" });
    expect(classifyDeadLetter("BATON_RESULTS", "results.code.t1.s1", none)).toEqual({
      kind: "result",
      agent: "code",
      taskId: "t1",
      stepId: "s1",
    });
    expect(classifyDeadLetter("BATON_SYNTHESIS", "synthesis.t1", none)).toEqual({ kind: "synthesis", taskId: "t1" });
    expect(classifyDeadLetter("BATON_WORK", "work.any-agent.t1.s1", none)).toEqual({
      kind: "work",
      agent: "any-agent",
      taskId: "t1",
      stepId: "s1",
    });
    expect(classifyDeadLetter("BATON_WORK", "work.Not_An_Agent.t1.s1", none)).toEqual({ kind: "other" });
    expect(classifyDeadLetter("OTHER", "work.data.t1.s1", none)).toEqual({ kind: "other" });
  });
});

describe("a dead-lettered step's result in the task state machine", () => {
  const now = new Date("2026-11-22T00:00:00.000Z");
  const call = [{ tool: "evaluate_expression", args: { expression: "1" } }];
  const plan = (failurePolicy: "fail-fast" | "continue") =>
    Plan.parse({
      failurePolicy,
      steps: [
        { id: "a", agent: "code", instruction: "a", toolCalls: call },
        { id: "b", agent: "code", instruction: "b", toolCalls: call },
        { id: "c", agent: "code", instruction: "c", dependsOn: ["a"], toolCalls: call },
      ],
    });
  const deadLettered = (attempt: number, dispatchId = "no-dispatch"): StepResult => ({
    schemaVersion: 1,
    kind: "step",
    taskId: "t1",
    stepId: "a",
    agent: "code",
    dispatchId,
    status: "failed",
    toolCalls: [],
    error: { code: "DEAD_LETTERED", message: "given up", retryable: false },
    attempt,
    worker: "supervisor-1",
    startedAt: now.toISOString(),
    finishedAt: now.toISOString(),
    durationMs: 0,
    usage: ZERO_USAGE,
  });
  const started = (failurePolicy: "fail-fast" | "continue") =>
    startTask(newTaskState({ taskId: "t1", goal: "g", plan: plan(failurePolicy), acceptedAt: now, timeoutMs: 60_000 }), now).state;

  it("fails a fail-fast task at the dead-lettered step (the attempt must match)", () => {
    const state = started("fail-fast");
    const dispatchId = state.steps.a?.dispatchId;
    expect(applyResult(state, deadLettered(2, dispatchId), now)).toBeUndefined();
    const t = applyResult(state, deadLettered(1, dispatchId), now);
    expect(t?.fail).toBe(true);
    expect(t?.state.failedStep).toBe("a");
    expect(t?.state.steps.a?.outcome?.error?.code).toBe("DEAD_LETTERED");
  });

  it("under continue, skips the dependents and lets the rest finish", () => {
    const state = started("continue");
    const t = applyResult(state, deadLettered(1, state.steps.a?.dispatchId), now);
    expect(t?.fail).toBe(false);
    expect(t?.state.steps.c?.status).toBe("skipped");
    expect(t?.state.steps.b?.status).toBe("dispatched");
  });
});
