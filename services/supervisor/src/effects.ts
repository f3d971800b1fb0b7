import { addUsage, StepWork, SynthesisRequest, subjects, TaskFailed, type TaskState, ZERO_USAGE } from "@baton/contracts";
import { type AuditTrail, auditId } from "@baton/audit";
import { type AgentRegistry, type Logger, outcomeStored, publishMessage, publishTaskEvent } from "@baton/core";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { ApprovalBook } from "./approvals/book.ts";
import { stepOutcomes, type Transition } from "./task-machine.ts";

/** Options of {@link TaskEffects.apply}. */
export interface ApplyOptions {
  /** A replay after a redelivery: the failure outcome is published only if none is stored yet. */
  readonly replay?: boolean;
}

/**
 * Carries out stored transitions ({@link apply}) with what the supervisor holds: the JetStream
 * client, the approval book, the audit trail and the agent registry.
 */
export class TaskEffects {
  readonly js: JetStreamClient;
  readonly approvals: ApprovalBook;
  readonly audit: AuditTrail;
  /** A step dispatched to an agent with no live replica gets a `step.waiting` event. */
  readonly agents: AgentRegistry | undefined;

  constructor(js: JetStreamClient, approvals: ApprovalBook, audit: AuditTrail, agents?: AgentRegistry) {
    this.js = js;
    this.approvals = approvals;
    this.audit = audit;
    this.agents = agents;
  }

  /**
   * Carries out a stored transition: publishes work, the synthesis request or the failure
   * outcome, opens and closes approvals, and publishes the lifecycle events (and audits a
   * failed task). Every publish has a deterministic Nats-Msg-Id, so replaying a transition after
   * a crash (`replay`) cannot dispatch a step or end a task twice.
   */
  async apply(t: Transition, logger: Logger, options: ApplyOptions = {}): Promise<void> {
    await applyEffects(this, t, logger, options);
  }
}

async function applyEffects(effects: TaskEffects, t: Transition, logger: Logger, options: ApplyOptions): Promise<void> {
  const { js } = effects;
  const { state } = t;
  // `step.dispatched` goes out before the work itself, so no client sees a worker's
  // `step.started` ahead of it; every other event follows the publishes it reports.
  // A decision's event, and the end of the step whose result this is, go out before the
  // dispatch they cause; `synthesizing` before the synthesis request (a fast synthesizer's
  // `completed` would otherwise be stored ahead of it).
  const early = t.events.filter((e) => EARLY_EVENTS.has(e.type));
  for (const event of early) {
    if (event.type !== "step.dispatched") {
      await publishTaskEvent(js, event, logger);
      continue;
    }
    await publishTaskEvent(js, event, logger);
    if (effects.agents && effects.agents.liveReplicas(event.agent).length === 0) {
      // The work waits in its work-queue stream until a replica of the agent starts, up to the task's deadline.
      await publishTaskEvent(
        js,
        {
          type: "step.waiting",
          taskId: event.taskId,
          stepId: event.stepId,
          agent: event.agent,
          reason: `no live replica of agent "${event.agent}": the step waits until one starts (up to the task's deadline)`,
        },
        logger,
      );
    }
  }
  await Promise.all(
    t.dispatch.map((work) =>
      publishMessage(js, subjects.work(work.agent, work.taskId, work.stepId), StepWork, work, {
        msgId: `work-${work.taskId}-${work.stepId}-${work.attempt}${work.kind === "compensation" ? "-compensation" : ""}`,
        template: `work.${work.agent}.{taskId}.{stepId}`,
      }),
    ),
  );
  if (t.synthesize) {
    await publishMessage(
      js,
      subjects.synthesis(state.taskId),
      SynthesisRequest,
      {
        schemaVersion: 1,
        taskId: state.taskId,
        goal: state.goal,
        plan: state.plan,
        steps: stepOutcomes(state),
        acceptedAt: state.acceptedAt,
        ...(state.metadata ? { metadata: state.metadata } : {}),
        ...(state.planningUsage ? { planningUsage: state.planningUsage } : {}),
      },
      { msgId: `synth-${state.taskId}`, template: "synthesis.{taskId}" },
    );
  }
  await effects.approvals.apply(t.approvals, logger);
  // A replay (after a redelivery) republishes the failure outcome only if it is not stored yet.
  if (t.fail && !(options.replay && (await outcomeStored(js, state.taskId)))) {
    await publishFailure(js, state);
    effects.audit.record({
      id: auditId("task_failed", state.taskId),
      kind: "task_failed",
      taskId: state.taskId,
      details: {
        code: state.error?.code ?? "INTERNAL",
        ...(state.failedStep ? { failedStep: state.failedStep } : {}),
        ...(state.compensations ? { compensations: state.compensations.map((c) => ({ stepId: c.stepId, status: c.status })) } : {}),
      },
    });
  }
  for (const event of t.events) {
    if (EARLY_EVENTS.has(event.type)) continue;
    // The failure event carries the task's usage, like the outcome.
    const withUsage = event.type === "failed" ? { ...event, usage: taskUsage(state) } : event;
    await publishTaskEvent(js, withUsage, logger);
  }
}

/** Events published before a transition's work and outcome (in the transition's order). */
const EARLY_EVENTS: ReadonlySet<string> = new Set([
  "step.completed",
  "step.failed",
  "step.approval_decided",
  "step.dispatched",
  "synthesizing",
]);

/** The task's usage so far: its steps plus its planning. */
function taskUsage(state: TaskState) {
  return stepOutcomes(state).reduce((sum, s) => addUsage(sum, s.usage), state.planningUsage ?? ZERO_USAGE);
}

async function publishFailure(js: JetStreamClient, state: TaskState): Promise<void> {
  const steps = stepOutcomes(state);
  const finishedAt = state.finishedAt ?? new Date().toISOString();
  await publishMessage(
    js,
    subjects.failed(state.taskId),
    TaskFailed,
    {
      schemaVersion: 1,
      taskId: state.taskId,
      goal: state.goal,
      error: state.error ?? { code: "INTERNAL", message: "task failed", retryable: false },
      ...(state.failedStep ? { failedStep: state.failedStep } : {}),
      steps,
      ...(state.compensations ? { compensations: state.compensations.map(({ attempt: _attempt, ...c }) => c) } : {}),
      timings: {
        acceptedAt: state.acceptedAt,
        finishedAt,
        durationMs: Date.parse(finishedAt) - Date.parse(state.acceptedAt),
      },
      usage: taskUsage(state),
      ...(state.metadata ? { metadata: state.metadata } : {}),
    },
    { msgId: `outcome-${state.taskId}`, template: "tasks.failed.{taskId}" },
  );
}
