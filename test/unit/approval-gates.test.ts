import { type AgentCard, ApprovalPolicy, argsHash, DEFAULT_APPROVAL_POLICY, Plan, type StepResult, type TaskState } from "@baton/contracts";
import {
  applyApprovalDecision,
  applyResult,
  awaitsApproval,
  failTask,
  gatesOf,
  newTaskState,
  pendingEffects,
  startTask,
  timeOutTask,
} from "@baton/supervisor";
import { describe, expect, it } from "vitest";

const at = (s: number) => new Date(Date.parse("2026-11-30T00:00:00.000Z") + s * 1_000);
const tool = (name: string, riskTier: "read" | "compute" | "write" | "external") => ({
  name,
  description: name,
  inputSchema: { type: "object" },
  riskTier,
  idempotent: riskTier === "read",
  timeoutMs: 1_000,
});
const cards: Record<string, AgentCard> = {
  tickets: {
    schemaVersion: 1,
    agent: "tickets",
    version: "1",
    description: "tickets",
    tools: [tool("create_ticket", "write"), tool("notify", "external"), tool("list_tickets", "read")],
    llm: true,
    updatedAt: at(0).toISOString(),
  },
  data: {
    schemaVersion: 1,
    agent: "data",
    version: "1",
    description: "d",
    tools: [tool("sql_query", "read")],
    llm: false,
    updatedAt: at(0).toISOString(),
  },
};

function accept(plan: unknown, policy = DEFAULT_APPROVAL_POLICY): TaskState {
  const parsed = Plan.parse(plan);
  return newTaskState({
    taskId: "t1",
    goal: "g",
    plan: parsed,
    acceptedAt: at(0),
    timeoutMs: 60_000,
    gates: gatesOf(parsed, (a) => cards[a], policy),
    approvalTimeoutMs: 600_000,
  });
}

const fileTicket = { tool: "create_ticket", args: { title: "Fix the build", apiKey: "sk-ant-api03-secretsecretsecretsecret" } };
const plan = {
  steps: [
    { id: "find", agent: "data", instruction: "find", toolCalls: [{ tool: "sql_query", args: { sql: "SELECT 1" } }] },
    { id: "file", agent: "tickets", instruction: "file", dependsOn: ["find"], toolCalls: [fileTicket] },
  ],
};

function result(state: TaskState, stepId: string, extra: Partial<StepResult> = {}): StepResult {
  const s = state.steps[stepId];
  return {
    schemaVersion: 1,
    kind: "step",
    taskId: "t1",
    stepId,
    agent: state.plan.steps.find((p) => p.id === stepId)?.agent ?? "data",
    dispatchId: s?.dispatchId ?? "none",
    status: "completed",
    output: { rows: [] },
    toolCalls: [],
    attempt: s?.attempt ?? 1,
    worker: "w",
    startedAt: at(0).toISOString(),
    finishedAt: at(0).toISOString(),
    durationMs: 1,
    usage: { toolCalls: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 },
    ...extra,
  };
}

/** The task once `find` completed: `file` waits for a person. */
function waiting(p: unknown = plan): { state: TaskState; approvalId: string } {
  const started = startTask(accept(p), at(0));
  const t = applyResult(started.state, result(started.state, "find"), at(1));
  const approvalId = t?.state.steps["file"]?.approval?.approvalId ?? "";
  return { state: t?.state as TaskState, approvalId };
}

describe("approval gates", () => {
  it("gates write and external tools by default; the policy and the plan add or lift per agent and tool, the plan never lifts", () => {
    const parsed = Plan.parse(plan);
    expect(gatesOf(parsed, (a) => cards[a], DEFAULT_APPROVAL_POLICY)).toEqual({
      file: [
        { tool: "create_ticket", riskTier: "write" },
        { tool: "notify", riskTier: "external" },
      ],
    });
    const policy = ApprovalPolicy.parse({ agents: { tickets: { tools: { notify: "never", list_tickets: "always" } } } });
    expect(gatesOf(parsed, (a) => cards[a], policy)["file"]?.map((g) => g.tool)).toEqual(["create_ticket", "list_tickets"]);
    const all = Plan.parse({ ...plan, approval: { all: true } });
    expect(gatesOf(all, (a) => cards[a], ApprovalPolicy.parse({ tiers: [] }))["find"]).toEqual([{ tool: "sql_query", riskTier: "read" }]);
    expect(Plan.safeParse({ ...plan, approval: { lift: ["tickets/create_ticket"] } }).success).toBe(false);
  });

  it("holds a step with a gated explicit call: awaiting_approval, a request with redacted arguments and their real hash, nothing dispatched", () => {
    const started = startTask(accept(plan), at(0));
    expect(started.dispatch.map((w) => w.stepId)).toEqual(["find"]);
    const t = applyResult(started.state, result(started.state, "find"), at(1));
    expect(t?.dispatch).toEqual([]);
    expect(t?.state.steps["file"]?.status).toBe("awaiting_approval");
    expect(awaitsApproval(t?.state as TaskState)).toBe(true);
    const open = t?.approvals[0];
    expect(open?.type).toBe("open");
    if (open?.type !== "open") return;
    expect(open.request.approvalId).toMatch(/^a-[0-9a-f]{32}$/);
    expect(open.request.calls).toEqual([
      {
        tool: "create_ticket",
        args: { title: "Fix the build", apiKey: "[REDACTED]" },
        argsHash: argsHash(fileTicket.args),
        riskTier: "write",
      },
    ]);
    expect(open.request.expiresAt).toBe(at(601).toISOString());
    expect(t?.events.map((e) => e.type)).toEqual(["step.completed", "step.awaiting_approval"]);
  });

  it("an approval dispatches the exact calls with the decisions, and moves the deadline on by the wait", () => {
    const { state, approvalId } = waiting();
    const t = applyApprovalDecision(
      state,
      approvalId,
      { schemaVersion: 1, approvalId, decision: "approve", approver: "alice", comment: "ok", decidedAt: at(31).toISOString() },
      at(31),
    );
    expect(t?.dispatch.map((w) => w.stepId)).toEqual(["file"]);
    const work = t?.dispatch[0];
    expect(work?.toolCalls).toEqual([fileTicket]);
    expect(work?.approval?.decisions).toEqual([
      { tool: "create_ticket", argsHash: argsHash(fileTicket.args), decision: "approve", approver: "alice", comment: "ok" },
    ]);
    expect(t?.state.deadlineAt).toBe(at(90).toISOString());
    expect(t?.events.map((e) => e.type)).toEqual(["step.approval_decided", "step.dispatched"]);
    expect(t?.approvals).toEqual([
      { type: "close", approvalId, status: "approved", decision: expect.objectContaining({ approver: "alice" }) },
    ]);
    // A second decision changes nothing.
    expect(
      applyApprovalDecision(
        t?.state as TaskState,
        approvalId,
        { schemaVersion: 1, approvalId, decision: "deny", approver: "bob", decidedAt: "" },
        at(32),
      ),
    ).toBeUndefined();
  });

  it("a denial fails a step of explicit calls with APPROVAL_DENIED; an expiry says nobody decided", () => {
    const { state, approvalId } = waiting();
    const denied = applyApprovalDecision(
      state,
      approvalId,
      { schemaVersion: 1, approvalId, decision: "deny", approver: "bob", comment: "not now", decidedAt: "" },
      at(5),
    );
    expect(denied?.state.status).toBe("failed");
    expect(denied?.state.steps["file"]?.outcome?.error).toEqual({
      code: "APPROVAL_DENIED",
      message: "denied by bob: not now",
      retryable: false,
    });
    const expired = applyApprovalDecision(
      state,
      approvalId,
      { schemaVersion: 1, approvalId, decision: "deny", approver: "baton:approval-timeout", decidedAt: "" },
      at(601),
      true,
    );
    expect(expired?.state.steps["file"]?.outcome?.error?.message).toContain("counted as a denial");
    expect(expired?.approvals[0]).toMatchObject({ type: "close", status: "expired" });
  });

  it("a step waiting for a person does not time out; cancelling the task withdraws its approval", () => {
    const { state, approvalId } = waiting();
    expect(timeOutTask(state, at(3_600))).toBeUndefined();
    const cancelled = failTask(state, { code: "CANCELLED", message: "cancelled", retryable: false }, at(10));
    expect(cancelled?.state.steps["file"]?.status).toBe("skipped");
    expect(cancelled?.approvals).toEqual([{ type: "close", approvalId, status: "withdrawn" }]);
    // A replay of the waiting state publishes the request again (the stream drops the repeat).
    expect(pendingEffects(state).approvals.map((a) => a.type)).toEqual(["open"]);
  });

  it("an LLM loop's pause opens an approval with its checkpoint; the decision dispatches it again with the checkpoint and the decisions", () => {
    const llmPlan = { steps: [{ id: "file", agent: "tickets", instruction: "file a ticket" }] };
    const started = startTask(accept(llmPlan), at(0));
    const work = started.dispatch[0];
    expect(work?.approval).toEqual({ gated: ["create_ticket", "notify"], decisions: [] });
    const hash = argsHash({ title: "x" });
    const paused = applyResult(
      started.state,
      result(started.state, "file", {
        status: "awaiting_approval",
        output: undefined,
        pending: {
          calls: [{ tool: "create_ticket", args: { title: "x" }, argsHash: hash, riskTier: "write" }],
          checkpoint: "tickets.t1.file.abc",
        },
      }),
      at(2),
    );
    expect(paused?.state.steps["file"]?.status).toBe("awaiting_approval");
    const approvalId = paused?.state.steps["file"]?.approval?.approvalId ?? "";
    const denied = applyApprovalDecision(
      paused?.state as TaskState,
      approvalId,
      { schemaVersion: 1, approvalId, decision: "deny", approver: "carol", decidedAt: "" },
      at(3),
    );
    // The loop goes on with the denial as the tool's result: dispatched again, not failed.
    expect(denied?.dispatch[0]?.attempt).toBe(2);
    expect(denied?.dispatch[0]?.approval).toEqual({
      gated: ["create_ticket", "notify"],
      decisions: [{ tool: "create_ticket", argsHash: hash, decision: "deny", approver: "carol" }],
      checkpoint: "tickets.t1.file.abc",
    });
  });
});
