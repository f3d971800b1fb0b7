import {
  type ApprovalDecision,
  type ApprovalRequest,
  type ErrorInfo,
  type GatedTool,
  type Plan,
  resolveStepRefs,
  type StepOutcome,
  type StepResult,
  type StepWork,
  type TaskBudget,
  type TaskState,
  type Usage,
  UnresolvedReferenceError,
} from "@baton/contracts";
import { randomBytes } from "node:crypto";
import { hasBudget, redactErrorInfo, type TaskEventInput } from "@baton/core";
import { type ApprovalChange, callDecisions, openApproval, undecidedCalls, workApproval } from "./approvals/gate.ts";

/**
 * What one state change asks the supervisor to do after it is stored (compare-and-set):
 * publish work, request synthesis, publish the failure outcome, open or close approvals. Pure
 * data, so the same transition can be replayed after a crash.
 */
export interface Transition {
  readonly state: TaskState;
  readonly dispatch: StepWork[];
  readonly synthesize: boolean;
  readonly fail: boolean;
  readonly events: TaskEventInput[];
  readonly approvals: ApprovalChange[];
}

/** The initial state of an accepted task: every step pending. */
export function newTaskState(input: {
  taskId: string;
  goal: string;
  plan: Plan;
  acceptedAt: Date;
  timeoutMs: number;
  traceparent?: string;
  tracestate?: string;
  metadata?: Record<string, string>;
  budget?: TaskBudget;
  planningUsage?: Usage;
  /** Per step, the tools that need approval (see `gatesOf`). */
  gates?: Record<string, GatedTool[]>;
  /** How long an approval waits for a decision, ms. */
  approvalTimeoutMs?: number;
  /** SHA-256 of the submission's canonical JSON (resubmissions are compared with it). */
  submissionSha256?: string;
}): TaskState {
  return {
    schemaVersion: 1,
    taskId: input.taskId,
    goal: input.goal,
    plan: input.plan,
    status: "running",
    steps: Object.fromEntries(input.plan.steps.map((s) => [s.id, { status: "pending" as const, attempt: 0 }])),
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
    ...(input.tracestate ? { tracestate: input.tracestate } : {}),
    acceptedAt: input.acceptedAt.toISOString(),
    deadlineAt: new Date(input.acceptedAt.getTime() + input.timeoutMs).toISOString(),
    ...(input.metadata ? { metadata: input.metadata } : {}),
    ...(input.budget ? { budget: input.budget } : {}),
    ...(input.planningUsage ? { planningUsage: input.planningUsage } : {}),
    ...(input.gates && Object.keys(input.gates).length > 0 ? { gates: input.gates } : {}),
    ...(input.approvalTimeoutMs ? { approvalTimeoutMs: input.approvalTimeoutMs } : {}),
    ...(input.submissionSha256 ? { submissionSha256: input.submissionSha256 } : {}),
  };
}

/** Dispatches every ready step of a freshly accepted task. */
export function startTask(state: TaskState, now: Date): Transition {
  return advance(structuredClone(state), now, [], []);
}

/**
 * Records a step result and moves the task on. Returns undefined when the result changes
 * nothing (a duplicate, a stale attempt, or a task that already ended). With `overBudget`
 * (why the task's budget ledger says it is over), nothing more is dispatched: the task fails
 * with `BUDGET_EXCEEDED`, keeping the results it has.
 */
export function applyResult(state: TaskState, result: StepResult, now: Date, overBudget?: string): Transition | undefined {
  if (result.kind === "compensation") return applyCompensationResult(state, result, now);
  const current = state.steps[result.stepId];
  if (state.status !== "running" || !current || current.status !== "dispatched" || current.attempt !== result.attempt) {
    return undefined;
  }
  // Only the worker that received this dispatch knows its id; and only the step's own agent reports it.
  const step = state.plan.steps.find((s) => s.id === result.stepId);
  if (current.dispatchId !== result.dispatchId || step?.agent !== result.agent) return undefined;
  const next = structuredClone(state);
  if (result.status === "awaiting_approval") {
    // The step's LLM loop paused before gated calls and saved its conversation: nothing holds a
    // worker while a person decides; the decision dispatches the step again to resume.
    if (!result.pending) return undefined;
    const gates = next.gates?.[result.stepId] ?? [];
    const calls = result.pending.calls.map((c) => ({ ...c, riskTier: gates.find((g) => g.tool === c.tool)?.riskTier ?? c.riskTier }));
    const opened = openApproval(next, result.stepId, calls, now, result.pending.checkpoint);
    return { state: next, dispatch: [], synthesize: false, fail: false, events: [opened.event], approvals: [opened.change] };
  }
  const status = result.status;
  next.steps[result.stepId] = { ...current, status, outcome: toOutcome(result, status) };
  // The step's end is announced here, as the result is recorded, before what it causes: only a
  // result the task still waited for gets an event (none after the task's terminal one).
  const reported: TaskEventInput[] = [stepEndEvent(result)];
  if (overBudget && result.status === "completed") {
    const error: ErrorInfo = { code: "BUDGET_EXCEEDED", message: `task over budget: ${overBudget}`, retryable: false };
    const approvals = skipWaiting(next);
    return finish(next, now, reported, "failed", error, undefined, approvals);
  }
  return advance(next, now, reported, []);
}

/** `step.completed` or `step.failed` of a recorded result (its error cleared of credentials). */
function stepEndEvent(result: StepResult): TaskEventInput {
  const { taskId, stepId, agent, durationMs } = result;
  if (result.status === "completed") return { type: "step.completed", taskId, stepId, agent, durationMs, usage: result.usage };
  const error = result.error ?? { code: "STEP_FAILED", message: "the step failed", retryable: false };
  return { type: "step.failed", taskId, stepId, agent, durationMs, error: redactErrorInfo(error) };
}

/**
 * Applies a person's decision (or the approval's expiry, `expired`) to the step waiting on
 * `approvalId`. Time spent waiting does not count against the task's deadline: `deadlineAt`
 * moves on by the wait. An approval moves the step on: explicit calls are dispatched; a paused
 * LLM loop is dispatched again with the decisions and its checkpoint. A denial (or expiry)
 * fails a step of explicit calls with `APPROVAL_DENIED`; a paused LLM loop is dispatched again
 * with the denial, which its model receives as the tool's result. Undefined when no step of
 * the running task waits on `approvalId` (decided already, or the task ended).
 */
export function applyApprovalDecision(
  state: TaskState,
  approvalId: string,
  decision: ApprovalDecision,
  now: Date,
  expired = false,
): Transition | undefined {
  if (state.status !== "running") return undefined;
  const stepId = Object.keys(state.steps).find(
    (id) => state.steps[id]?.status === "awaiting_approval" && state.steps[id]?.approval?.approvalId === approvalId,
  );
  const step = state.plan.steps.find((s) => s.id === stepId);
  if (!stepId || !step) return undefined;
  const next = structuredClone(state);
  const s = next.steps[stepId];
  const approval = s?.approval;
  if (!s || !approval) return undefined;
  const waitedMs = Math.max(0, now.getTime() - Date.parse(approval.requestedAt));
  next.deadlineAt = new Date(Date.parse(next.deadlineAt) + waitedMs).toISOString();
  approval.decisions = callDecisions(approval, decision);
  const events: TaskEventInput[] = [
    {
      type: "step.approval_decided",
      taskId: state.taskId,
      stepId,
      agent: step.agent,
      approvalId,
      decision: decision.decision,
      approver: decision.approver,
      ...(decision.comment ? { comment: decision.comment } : {}),
    },
  ];
  const status = expired ? "expired" : decision.decision === "approve" ? "approved" : "denied";
  const approvals: ApprovalChange[] = [{ type: "close", approvalId, status, decision }];
  if (decision.decision === "deny" && !approval.checkpoint) {
    const error: ErrorInfo = {
      code: "APPROVAL_DENIED",
      message: expired
        ? `no decision on approval ${approvalId} by ${approval.expiresAt}: counted as a denial`
        : `denied by ${decision.approver}${decision.comment ? `: ${decision.comment}` : ""}`,
      retryable: false,
    };
    s.status = "failed";
    s.outcome = {
      stepId,
      agent: step.agent,
      status: "failed",
      toolCalls: [],
      error,
      attempt: s.attempt,
      usage: zeroUsage(),
    };
    events.push({ type: "step.failed", taskId: state.taskId, stepId, agent: step.agent, durationMs: waitedMs, error });
  } else {
    s.status = "pending";
  }
  return advance(next, now, events, approvals);
}

/**
 * Fails a running task whose deadline has passed with `TASK_TIMEOUT`. Undefined when it ended,
 * when its (moved) deadline is still ahead, or while a step waits for a person — the decision
 * (or the approval's expiry) moves the deadline on.
 */
export function timeOutTask(state: TaskState, now: Date): Transition | undefined {
  if (state.status !== "running" || now.getTime() < Date.parse(state.deadlineAt) || awaitsApproval(state)) return undefined;
  return failTask(state, { code: "TASK_TIMEOUT", message: `the task's deadline passed at ${state.deadlineAt}`, retryable: false }, now);
}

/** Whether a step of the task waits for a person's decision. */
export function awaitsApproval(state: TaskState): boolean {
  return Object.values(state.steps).some((s) => s.status === "awaiting_approval");
}

/** Steps still waiting (pending or for a person) are skipped; their open approvals withdrawn. */
function skipWaiting(state: TaskState): ApprovalChange[] {
  const withdrawn: ApprovalChange[] = [];
  for (const step of Object.values(state.steps)) {
    if (step.status === "awaiting_approval" && step.approval) {
      withdrawn.push({ type: "close", approvalId: step.approval.approvalId, status: "withdrawn" });
    }
    if (step.status === "pending" || step.status === "awaiting_approval") step.status = "skipped";
  }
  return withdrawn;
}

/**
 * Dispatches a step again as a new attempt, because its work (or its result) was lost — e.g.
 * acked by a nats-server that was then killed before writing it to disk. A late result of the
 * old attempt is then ignored as stale. Undefined when the step is no longer dispatched at
 * `attempt` (its result arrived meanwhile) or the task is not running.
 */
export function redispatchStep(state: TaskState, stepId: string, attempt: number, now: Date): Transition | undefined {
  const s = state.steps[stepId];
  if (state.status !== "running" || !s || s.status !== "dispatched" || s.attempt !== attempt) return undefined;
  const next = structuredClone(state);
  const work = buildWork(next, stepId, outputsOf(next), attempt + 1, newDispatchId(), now);
  const step = next.steps[stepId];
  if (!step) return undefined;
  step.attempt = work.attempt;
  step.dispatchId = work.dispatchId;
  step.dispatchedAt = now.toISOString();
  const agent = work.agent;
  return {
    state: next,
    dispatch: [work],
    synthesize: false,
    fail: false,
    events: [{ type: "step.dispatched", taskId: state.taskId, stepId, agent, attempt: work.attempt }],
    approvals: [],
  };
}

/** Fails a running task at once (e.g. its deadline passed). Undefined when it already ended. */
export function failTask(state: TaskState, error: ErrorInfo, now: Date): Transition | undefined {
  if (state.status !== "running") return undefined;
  const next = structuredClone(state);
  const approvals = skipWaiting(next);
  return finish(next, now, [], "failed", error, undefined, approvals);
}

/**
 * Fails a synthesizing task whose synthesis request was given up (dead-lettered): its steps
 * compensate as for any failure, then the failure outcome. Undefined unless it is synthesizing.
 */
export function failSynthesis(state: TaskState, error: ErrorInfo, now: Date): Transition | undefined {
  if (state.status !== "synthesizing") return undefined;
  return finish(structuredClone(state), now, [], "failed", error, undefined, []);
}

/**
 * The side effects a stored state still implies — replayed when a message is redelivered after
 * a crash between the state write and the publishes (the stream drops repeats by Nats-Msg-Id).
 */
export function pendingEffects(state: TaskState): Transition {
  const outputs = outputsOf(state);
  const dispatch: StepWork[] = [];
  const approvals: ApprovalChange[] = [];
  if (state.status === "running") {
    for (const step of state.plan.steps) {
      const s = state.steps[step.id];
      if (s?.status === "dispatched" && s.dispatchedAt && s.dispatchId) {
        dispatch.push(buildWork(state, step.id, outputs, s.attempt, s.dispatchId, new Date(s.dispatchedAt)));
      }
      if (s?.status === "awaiting_approval" && s.approval) approvals.push({ type: "open", request: requestOf(state, step.id, s.approval) });
    }
  }
  if (state.status === "compensating") {
    const comp = state.compensations?.find((c) => c.status === "dispatched");
    if (comp?.dispatchId) {
      dispatch.push(
        buildCompensationWork(state, comp.stepId, outputs, comp.attempt, comp.dispatchId, new Date(state.finishedAt ?? Date.now())),
      );
    }
  }
  return { state, dispatch, synthesize: state.status === "synthesizing", fail: state.status === "failed", events: [], approvals };
}

/** The approval request a waiting step's stored approval stands for (to publish it again). */
function requestOf(state: TaskState, stepId: string, approval: NonNullable<TaskState["steps"][string]["approval"]>): ApprovalRequest {
  const step = state.plan.steps.find((s) => s.id === stepId);
  return {
    schemaVersion: 1,
    approvalId: approval.approvalId,
    taskId: state.taskId,
    stepId,
    agent: step?.agent ?? "unknown",
    goal: state.goal,
    instruction: step?.instruction ?? "",
    calls: approval.calls,
    reason: approval.reason,
    requestedAt: approval.requestedAt,
    expiresAt: approval.expiresAt,
  };
}

function advance(state: TaskState, now: Date, events: TaskEventInput[], approvals: ApprovalChange[]): Transition {
  const dispatch: StepWork[] = [];
  const failed = state.plan.steps.find((s) => state.steps[s.id]?.status === "failed");
  if (failed && state.plan.failurePolicy === "fail-fast") {
    approvals.push(...skipWaiting(state));
    const error = state.steps[failed.id]?.outcome?.error;
    return finish(state, now, events, "failed", stepFailedError(failed.id, error), failed.id, approvals);
  }
  // Dispatch ready steps; a step whose references cannot be resolved fails at once, which may
  // make further steps skippable, so repeat until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    const outputs = outputsOf(state);
    for (const step of state.plan.steps) {
      const s = state.steps[step.id];
      if (!s || s.status !== "pending") continue;
      const deps = step.dependsOn.map((d) => state.steps[d]?.status);
      if (deps.some((d) => d === "failed" || d === "skipped")) {
        s.status = "skipped";
        changed = true;
        continue;
      }
      if (!deps.every((d) => d === "completed")) continue;
      try {
        const work = buildWork(state, step.id, outputs, s.attempt + 1, newDispatchId(), now);
        const waiting = work.kind === "step" ? undecidedCalls(state, work) : [];
        if (waiting.length > 0) {
          // Explicit calls of gated tools wait for a person before the work is published.
          const opened = openApproval(state, step.id, waiting, now);
          events.push(opened.event);
          approvals.push(opened.change);
          continue;
        }
        s.status = "dispatched";
        s.attempt = work.attempt;
        s.dispatchId = work.dispatchId;
        s.dispatchedAt = now.toISOString();
        dispatch.push(work);
        events.push({ type: "step.dispatched", taskId: state.taskId, stepId: step.id, agent: step.agent, attempt: work.attempt });
      } catch (error) {
        if (!(error instanceof UnresolvedReferenceError)) throw error;
        const info: ErrorInfo = { code: "UNRESOLVED_REFERENCE", message: error.message, retryable: false };
        s.status = "failed";
        s.outcome = {
          stepId: step.id,
          agent: step.agent,
          status: "failed",
          toolCalls: [],
          error: info,
          attempt: s.attempt,
          usage: zeroUsage(),
        };
        events.push({ type: "step.failed", taskId: state.taskId, stepId: step.id, agent: step.agent, durationMs: 0, error: info });
        if (state.plan.failurePolicy === "fail-fast") return advance(state, now, events, approvals);
        changed = true;
      }
    }
  }
  const statuses = state.plan.steps.map((s) => state.steps[s.id]?.status);
  const allFinished = statuses.every((st) => st === "completed" || st === "failed" || st === "skipped");
  if (!allFinished) return { state, dispatch, synthesize: false, fail: false, events, approvals };
  if (!statuses.includes("completed")) {
    const firstFailed = state.plan.steps.find((s) => state.steps[s.id]?.status === "failed");
    return finish(
      state,
      now,
      events,
      "failed",
      stepFailedError(firstFailed?.id ?? "?", firstFailed ? state.steps[firstFailed.id]?.outcome?.error : undefined),
      firstFailed?.id,
      approvals,
    );
  }
  state.status = "synthesizing";
  events.push({ type: "synthesizing", taskId: state.taskId });
  return { state, dispatch, synthesize: true, fail: false, events, approvals };
}

function finish(
  state: TaskState,
  now: Date,
  events: TaskEventInput[],
  status: "failed",
  error: ErrorInfo,
  failedStep: string | undefined,
  approvals: ApprovalChange[],
): Transition {
  state.error = error;
  if (failedStep) state.failedStep = failedStep;
  // Saga: the completed steps that declared a compensation are undone first, one at a time,
  // latest-completed first; the failure outcome is published when the last one reports.
  const toUndo = state.plan.steps
    .filter((s) => s.compensation && state.steps[s.id]?.status === "completed")
    .sort((a, b) => (state.steps[b.id]?.outcome?.finishedAt ?? "").localeCompare(state.steps[a.id]?.outcome?.finishedAt ?? ""));
  if (toUndo.length > 0 && !state.compensations) {
    state.status = "compensating";
    state.compensations = toUndo.map((s) => ({ stepId: s.id, agent: s.agent, status: "pending" as const, attempt: 0 }));
    events.push({ type: "compensating", taskId: state.taskId, steps: toUndo.map((s) => s.id) });
    return nextCompensation(state, now, events, approvals);
  }
  state.status = status;
  state.finishedAt = now.toISOString();
  events.push({ type: "failed", taskId: state.taskId, error, ...(failedStep ? { failedStep } : {}) });
  return { state, dispatch: [], synthesize: false, fail: true, events, approvals };
}

/** Dispatches the next pending compensation, or ends the task as failed when none is left. */
function nextCompensation(state: TaskState, now: Date, events: TaskEventInput[], approvals: ApprovalChange[] = []): Transition {
  const outputs = outputsOf(state);
  for (const comp of state.compensations ?? []) {
    if (comp.status !== "pending") continue;
    try {
      const work = buildCompensationWork(state, comp.stepId, outputs, comp.attempt + 1, newDispatchId(), now);
      comp.status = "dispatched";
      comp.attempt = work.attempt;
      comp.dispatchId = work.dispatchId;
      return { state, dispatch: [work], synthesize: false, fail: false, events, approvals };
    } catch (error) {
      if (!(error instanceof UnresolvedReferenceError)) throw error;
      comp.status = "failed";
      comp.error = { code: "UNRESOLVED_REFERENCE", message: error.message, retryable: false };
    }
  }
  state.status = "failed";
  state.finishedAt = now.toISOString();
  const error = state.error ?? { code: "INTERNAL" as const, message: "task failed", retryable: false };
  events.push({ type: "failed", taskId: state.taskId, error, ...(state.failedStep ? { failedStep: state.failedStep } : {}) });
  return { state, dispatch: [], synthesize: false, fail: true, events, approvals };
}

/** Records a compensation's result and moves on to the next one (or the failure outcome). */
function applyCompensationResult(state: TaskState, result: StepResult, now: Date): Transition | undefined {
  const comp = state.compensations?.find((c) => c.stepId === result.stepId);
  if (state.status !== "compensating" || !comp || comp.status !== "dispatched" || comp.attempt !== result.attempt) return undefined;
  // Compensations run without approval gates: a paused compensation is not a thing.
  if (result.status === "awaiting_approval") return undefined;
  if (comp.dispatchId !== result.dispatchId || comp.agent !== result.agent) return undefined;
  const next = structuredClone(state);
  const c = next.compensations?.find((x) => x.stepId === result.stepId);
  if (!c) return undefined;
  c.status = result.status === "completed" ? "completed" : "failed";
  c.durationMs = result.durationMs;
  if (result.output !== undefined) c.output = result.output;
  if (result.error) c.error = result.error;
  return nextCompensation(next, now, []);
}

function stepFailedError(stepId: string, cause: ErrorInfo | undefined): ErrorInfo {
  // A step stopped by the task's budget fails the task for that reason, not as a step failure.
  if (cause?.code === "BUDGET_EXCEEDED") return { ...cause, message: `step "${stepId}": ${cause.message}` };
  return {
    code: "STEP_FAILED",
    message: `step "${stepId}" failed${cause ? `: ${cause.code}: ${cause.message}` : ""}`,
    retryable: false,
  };
}

function outputsOf(state: TaskState): Record<string, unknown> {
  const outputs: Record<string, unknown> = {};
  for (const [id, s] of Object.entries(state.steps)) {
    if (s.status === "completed") outputs[id] = s.outcome?.output ?? null;
  }
  return outputs;
}

/** The work item of a step's compensation. @throws UnresolvedReferenceError for a bad reference. */
function buildCompensationWork(
  state: TaskState,
  stepId: string,
  outputs: Record<string, unknown>,
  attempt: number,
  dispatchId: string,
  now: Date,
): StepWork {
  const step = state.plan.steps.find((s) => s.id === stepId);
  if (!step?.compensation) throw new Error(`step ${stepId} has no compensation`);
  return {
    schemaVersion: 1,
    kind: "compensation",
    taskId: state.taskId,
    stepId,
    agent: step.agent,
    dispatchId,
    goal: state.goal,
    instruction: `Undo step "${stepId}": ${step.instruction}`,
    toolCalls: [{ tool: step.compensation.tool, args: resolveStepRefs(step.compensation.args, outputs) as Record<string, unknown> }],
    inputs: { [stepId]: outputs[stepId] ?? null },
    attempt,
    dispatchedAt: now.toISOString(),
  };
}

/** @throws UnresolvedReferenceError when a `$fromStep` reference matches nothing. */
function buildWork(
  state: TaskState,
  stepId: string,
  outputs: Record<string, unknown>,
  attempt: number,
  dispatchId: string,
  now: Date,
): StepWork {
  const step = state.plan.steps.find((s) => s.id === stepId);
  if (!step) throw new Error(`step ${stepId} not in plan`);
  const approval = workApproval(state, stepId);
  return {
    schemaVersion: 1,
    kind: "step",
    taskId: state.taskId,
    stepId,
    agent: step.agent,
    dispatchId,
    goal: state.goal,
    instruction: step.instruction,
    toolCalls: step.toolCalls.map((c) => ({ tool: c.tool, args: resolveStepRefs(c.args, outputs) as Record<string, unknown> })),
    inputs: Object.fromEntries(step.dependsOn.map((d) => [d, outputs[d] ?? null])),
    attempt,
    ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
    deadlineAt: state.deadlineAt,
    budgeted: hasBudget(state),
    ...(step.retry ? { retry: step.retry } : {}),
    ...(approval ? { approval } : {}),
    dispatchedAt: now.toISOString(),
  };
}

/**
 * A result as kept in task state. Earlier tool calls' outputs are dropped (the step's output
 * is the last call's output) so the state stays well under the server's max payload.
 */
function toOutcome(result: StepResult, status: "completed" | "failed"): StepOutcome {
  return {
    stepId: result.stepId,
    agent: result.agent,
    status,
    ...(result.output !== undefined ? { output: result.output } : {}),
    toolCalls: result.toolCalls.map((c) => (c.ok ? { ...c, output: undefined } : c)),
    ...(result.error ? { error: result.error } : {}),
    attempt: result.attempt,
    worker: result.worker,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    durationMs: result.durationMs,
    usage: result.usage,
  };
}

function zeroUsage() {
  return { toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
}

/** Step outcomes in plan order; steps that never ran appear as `skipped`. */
export function stepOutcomes(state: TaskState): StepOutcome[] {
  return state.plan.steps.map(
    (step) =>
      state.steps[step.id]?.outcome ?? {
        stepId: step.id,
        agent: step.agent,
        status: "skipped" as const,
        toolCalls: [],
        attempt: state.steps[step.id]?.attempt ?? 0,
        usage: zeroUsage(),
      },
  );
}

/** A fresh dispatch id: 96 random bits, base64url (16 characters). */
function newDispatchId(): string {
  return randomBytes(12).toString("base64url");
}
