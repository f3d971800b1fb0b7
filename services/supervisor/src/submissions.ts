import { randomUUID } from "node:crypto";
import { auditId } from "@baton/audit";
import {
  type ApprovalPolicy,
  type ErrorInfo,
  type Plan,
  canonicalJson,
  sha256Hex,
  subjects,
  type TaskBudget,
  TaskFailed,
  TaskId,
  TaskRejected,
  type TaskState,
  type TaskSubmission,
  type Usage,
  ZERO_USAGE,
} from "@baton/contracts";
import {
  type AgentRegistry,
  BatonError,
  type BudgetLedgers,
  currentTraceCarrier,
  type Logger,
  publishMessage,
  publishTaskEvent,
  type ServiceContext,
  type TaskStore,
} from "@baton/core";
import { LlmError, type LlmSetup } from "@baton/llm";
import type { MemoryStore } from "@baton/memory";
import type { JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import type { SupervisorEnv } from "./config.ts";
import type { TaskEffects } from "./effects.ts";
import { gatesOf } from "./approvals/gate.ts";
import { checkPlanAgainstCards, type SchemaCache, withDeclaredCompensations } from "./agents/check-plan.ts";
import type { DeadlineWatch } from "./control.ts";
import { planTask } from "./planner/index.ts";
import { newTaskState, pendingEffects, startTask } from "./task-machine.ts";
import { validateSubmission } from "./validate-submission.ts";

/** What the submission handler needs. */
export interface SubmissionDeps {
  readonly service: ServiceContext;
  readonly env: SupervisorEnv;
  readonly store: TaskStore;
  readonly ledgers: BudgetLedgers;
  readonly memory: MemoryStore;
  /** The LLM, when one is configured: plans goals and lets steps run without explicit tool calls. */
  readonly llm: LlmSetup | undefined;
  readonly deadlines: DeadlineWatch;
  /** The registered agent cards and live replicas: plans are checked against them. */
  readonly agents: AgentRegistry;
  /** Compiled input schemas of the registered tools. */
  readonly schemas: SchemaCache;
  readonly effects: TaskEffects;
  /** The operator's approval policy (APPROVAL_POLICY_JSON). */
  readonly approvalPolicy: ApprovalPolicy;
}

/**
 * Handles one message from `tasks.submit`: size limit, JSON, schema and plan checks, the plan
 * against the registered agents and their tools (each failure → `tasks.rejected` naming the
 * fields and what is registered), then idempotent acceptance keyed by taskId,
 * the task's budget ledger, planning by the LLM when the submission has no plan, the
 * `accepted` and `planned` events, and dispatch of the ready steps.
 */
export async function handleSubmission(deps: SubmissionDeps, msg: JsMsg): Promise<void> {
  const { service, env, store } = deps;
  const { js, logger } = service;
  const validated = validateSubmission(msg.data, env.MAX_SUBMISSION_BYTES);
  if (!validated.ok) return reject(deps, msg, validated.claimedId, validated.error);
  const { submission, claimedId } = validated;
  const planError = checkRunnable(submission, deps.llm !== undefined);
  if (planError) return reject(deps, msg, claimedId, planError);
  if (submission.plan) {
    const agentError = await checkAgents(deps, submission.plan);
    if (agentError) return reject(deps, msg, claimedId, agentError);
  }

  const taskId = submission.taskId ?? randomUUID();
  const log = logger.child({ taskId });
  trace.getActiveSpan()?.setAttribute("baton.task.id", taskId);
  const now = new Date();
  const budget = budgetOf(submission, env);
  // Creating the task's budget ledger is the atomic claim of its taskId: of two concurrent
  // deliveries of the same taskId, exactly one goes on.
  const submissionSha256 = sha256Hex(canonicalJson({ ...submission, taskId }));
  if (!(await deps.ledgers.create(taskId, budget, now))) {
    const existing = await store.get(taskId);
    const redelivered = msg.info.deliveryCount > 1;
    if (existing && redelivered) {
      // Our own earlier attempt stored the task and then crashed: finish its side effects.
      log.warn("redelivered submission: replaying pending effects");
      await deps.effects.apply(pendingEffects(existing.state), log, { replay: true });
      return;
    }
    if (existing) return answerResubmission(deps, msg, existing.state, submissionSha256, log);
    if (!redelivered) {
      // Another delivery of this taskId claimed it an instant ago and is accepting it now.
      log.info("submission of a taskId being accepted by another delivery ignored");
      return;
    }
    log.warn("redelivered submission claimed but never stored: planning it again");
  }
  if (msg.info.deliveryCount === 1) await publishTaskEvent(js, { type: "accepted", taskId, goal: submission.goal }, log);
  const planned = await obtainPlan(deps, submission, taskId, log);
  if (!planned.ok) return failUnplanned(js, taskId, submission, now, planned.error, planned.usage, log);
  const { usage: planningUsage, source } = planned;
  const plan = withDeclaredCompensations(planned.plan, (name) => deps.agents.get(name)?.card);
  const state = newTaskState({
    taskId,
    goal: submission.goal,
    plan,
    acceptedAt: now,
    timeoutMs: submission.timeoutMs ?? env.TASK_TIMEOUT_MS,
    ...currentTraceCarrier(),
    ...(submission.metadata ? { metadata: submission.metadata } : {}),
    budget,
    ...(planningUsage ? { planningUsage } : {}),
    gates: gatesOf(plan, (name) => deps.agents.get(name)?.card, deps.approvalPolicy),
    approvalTimeoutMs: env.APPROVAL_TIMEOUT_MS,
    submissionSha256,
  });
  // The task is stored with its first steps already marked dispatched — one atomic write — so a
  // crash right after it leaves a state whose pending effects a redelivery replays (a task
  // stored with every step pending and then a crash would wait for its deadline).
  const transition = startTask(state, now);
  if (!(await store.create(transition.state))) {
    log.info("task created concurrently by another delivery; leaving it to that one");
    return;
  }
  deps.deadlines.arm(taskId, state.deadlineAt);
  log.info({ steps: plan.steps.length, source }, "task accepted");
  await publishTaskEvent(
    js,
    { type: "planned", taskId, source, steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })) },
    log,
  );
  deps.effects.audit.record({
    id: auditId("submission", taskId),
    kind: "submission",
    taskId,
    details: {
      goalSha256: sha256Hex(submission.goal),
      source,
      steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, tools: s.toolCalls.map((c) => c.tool) })),
      ...(state.gates ? { gated: Object.fromEntries(Object.entries(state.gates).map(([id, g]) => [id, g.map((t) => t.tool)])) } : {}),
      budget,
      stream: msg.info.stream,
      seq: msg.seq,
    },
  });
  await deps.effects.apply(transition, log);
}

/**
 * A taskId already taken: the same body again gets a `resubmitted` event with what became of the
 * task (its outcome, when it has one, stays in BATON_OUTCOMES to be read); another body is
 * rejected with `TASK_ID_CONFLICT` (the taskId is an idempotency key: one key, one request).
 */
async function answerResubmission(deps: SubmissionDeps, msg: JsMsg, state: TaskState, sha256: string, log: Logger): Promise<void> {
  if (state.submissionSha256 === undefined || state.submissionSha256 === sha256) {
    log.info({ status: state.status }, "the same submission again: its task's status published");
    await publishTaskEvent(
      deps.service.js,
      { type: "resubmitted", taskId: state.taskId, status: state.status, acceptedAt: state.acceptedAt },
      log,
    );
    return;
  }
  return reject(deps, msg, state.taskId, {
    code: "TASK_ID_CONFLICT",
    message: `taskId "${state.taskId}" was accepted at ${state.acceptedAt} for a different submission (the taskId is its idempotency key): submit with a new taskId`,
    retryable: false,
    issues: [{ path: "taskId", message: "already used by a different submission" }],
  });
}

/**
 * The plan checked against the registered agent cards (agents not known yet are read from KV
 * first): the rejection naming each offending field and what is registered, or undefined.
 */
async function checkAgents(deps: SubmissionDeps, plan: Plan): Promise<ErrorInfo | undefined> {
  await Promise.all([...new Set(plan.steps.map((s) => s.agent))].map((name) => deps.agents.lookup(name)));
  let problem: ReturnType<typeof checkPlanAgainstCards>;
  try {
    problem = checkPlanAgainstCards(plan, (name) => deps.agents.get(name)?.card, deps.agents.names(), "plan", deps.schemas);
  } catch (error) {
    // A check that throws on this input says nothing a retry would change: a rejection.
    return {
      code: "VALIDATION_FAILED",
      message: `the plan could not be checked against the agent cards: ${error instanceof Error ? error.message : String(error)}`,
      retryable: false,
    };
  }
  if (!problem) return undefined;
  return {
    code: problem.code,
    message: `the plan cannot run on the registered agents: ${problem.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
    retryable: false,
    issues: problem.issues,
  };
}

type Planned =
  | { ok: true; plan: Plan; usage: Usage | undefined; source: "submission" | "llm" }
  | { ok: false; error: ErrorInfo; usage: Usage | undefined };

/**
 * The submission's plan, or one from the LLM planner (with the most relevant memories).
 * Retryable LLM errors are thrown (the submission is redelivered later); other planning
 * failures come back as an error to fail the task with.
 */
async function obtainPlan(deps: SubmissionDeps, submission: TaskSubmission, taskId: string, log: Logger): Promise<Planned> {
  if (submission.plan) return { ok: true, plan: submission.plan, usage: undefined, source: "submission" };
  const llm = deps.llm;
  if (!llm) throw new Error("unreachable: checkRunnable requires an LLM for a goal without a plan");
  const agents = deps.agents.agents().map((a) => a.card);
  const memories = await deps.memory.search(submission.goal, deps.env.PLANNER_MEMORY_TOP_K);
  try {
    const result = await planTask({
      provider: llm.provider,
      model: llm.models.planner,
      goal: submission.goal,
      taskId,
      agents,
      memories,
      maxRepairs: deps.env.PLANNER_MAX_REPAIRS,
      maxOutputTokens: llm.maxOutputTokens,
      budget: deps.ledgers.guard(taskId),
    });
    log.info({ attempts: result.attempts, steps: result.plan.steps.length, memories: memories.length }, "goal planned by the LLM");
    return { ok: true, plan: result.plan, usage: result.usage, source: "llm" };
  } catch (error) {
    if (error instanceof BatonError && !error.retryable) return { ok: false, error: error.toInfo(), usage: undefined };
    if (error instanceof LlmError) {
      // The SDK already retried (LLM_MAX_RETRIES, with backoff, each attempt within LLM_TIMEOUT_MS):
      // the provider is unavailable now, and redelivering the submission would only repeat that.
      return {
        ok: false,
        error: { code: "LLM_UNAVAILABLE", message: `the LLM planner could not be reached: ${error.message}`, retryable: false },
        usage: undefined,
      };
    }
    throw error;
  }
}

/** A task that failed before it had a plan: the outcome has no steps. */
async function failUnplanned(
  js: ServiceContext["js"],
  taskId: string,
  submission: TaskSubmission,
  acceptedAt: Date,
  error: ErrorInfo,
  usage: Usage | undefined,
  log: Logger,
): Promise<void> {
  const finishedAt = new Date();
  log.warn({ code: error.code }, `planning failed: ${error.message}`);
  await publishMessage(
    js,
    subjects.failed(taskId),
    TaskFailed,
    {
      schemaVersion: 1,
      taskId,
      goal: submission.goal,
      error,
      steps: [],
      timings: {
        acceptedAt: acceptedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - acceptedAt.getTime(),
      },
      usage: usage ?? ZERO_USAGE,
      ...(submission.metadata ? { metadata: submission.metadata } : {}),
    },
    { msgId: `outcome-${taskId}`, template: "tasks.failed.{taskId}" },
  );
  await publishTaskEvent(js, { type: "failed", taskId, error, usage: usage ?? ZERO_USAGE }, log);
}

/** The submission's budget over the supervisor's defaults. */
function budgetOf(submission: TaskSubmission, env: SupervisorEnv): TaskBudget {
  const limits: TaskBudget = {
    ...(env.TASK_MAX_TOKENS ? { maxTokens: env.TASK_MAX_TOKENS } : {}),
    ...(env.TASK_MAX_COST_USD ? { maxCostUsd: env.TASK_MAX_COST_USD } : {}),
    ...(env.TASK_MAX_WALL_TIME_MS ? { maxWallTimeMs: env.TASK_MAX_WALL_TIME_MS } : {}),
  };
  return { ...limits, ...submission.budget };
}

/**
 * Without an LLM planner, a submission needs an explicit plan. (Whether its steps can run — tool
 * calls, or an agent with its own LLM loop — is checked against the agent cards.)
 * @returns the rejection, or undefined when the submission can be planned.
 */
function checkRunnable(submission: TaskSubmission, llm: boolean): ErrorInfo | undefined {
  if (llm || submission.plan) return undefined;
  return {
    code: "PLANNER_UNAVAILABLE",
    message:
      "the submission has a goal but no plan, and no LLM planner is configured: submit an explicit plan, or configure an LLM (ANTHROPIC_API_KEY, OPENAI_API_KEY or OPENAI_BASE_URL)",
    retryable: false,
    issues: [{ path: "plan", message: "required while no LLM planner is configured" }],
  };
}

async function reject(deps: SubmissionDeps, msg: JsMsg, taskId: string | null, error: ErrorInfo): Promise<void> {
  const { service } = deps;
  const receivedBytes = msg.data.byteLength;
  const log: Logger = service.logger.child({ taskId });
  deps.effects.audit.record({
    id: auditId("rejection", msg.info.stream, String(msg.seq)),
    kind: "rejection",
    ...(taskId && TaskId.safeParse(taskId).success ? { taskId } : {}),
    details: { code: error.code, message: error.message.slice(0, 1_000), receivedBytes, stream: msg.info.stream, seq: msg.seq },
  });
  log.warn({ code: error.code, issues: error.issues }, `submission rejected: ${error.message}`);
  await publishMessage(
    service.js,
    subjects.rejected,
    TaskRejected,
    { schemaVersion: 1, taskId, error, receivedBytes, at: new Date().toISOString() },
    { template: subjects.rejected },
  );
}
