import {
  type ApprovalCall,
  DispatchId,
  type ErrorInfo,
  KV_BUCKETS,
  StepId,
  StepResult,
  StepWork,
  subjects,
  TaskId,
  type Usage,
  workConsumer,
} from "@baton/contracts";
import { AuditEnv, AuditTrail, auditId } from "@baton/audit";
import {
  backoffDelayMs,
  BudgetLedgers,
  ConsumerLoop,
  decodeJson,
  dispatchStanding,
  type DispatchStanding,
  ensureConsumer,
  hasBudget,
  isFreshDelivery,
  KvEffectLedger,
  loadConfig,
  type Logger,
  openKv,
  publishMessage,
  publishTaskEvent,
  redactErrorInfo,
  RetryLaterError,
  retryWhileUnavailable,
  type ServiceContext,
  TaskStore,
} from "@baton/core";
import { createChatProvider, type LlmSetup } from "@baton/llm";
import { type ExecuteOptions, ToolBreakers, type ToolRegistry } from "@baton/tools";
import type { JsMsg } from "@nats-io/jetstream";
import type { z } from "zod";
import { trace } from "@opentelemetry/api";
import type { WorkerEnv } from "./config.ts";
import { AgentPresence } from "./presence.ts";
import { TaskAborts } from "./task-aborts.ts";
import { LoopCheckpoint, type PendingApproval, runAgentLoop } from "./agent-loop/index.ts";
import { checkExplicitApprovals } from "./approvals.ts";
import { runStepToolCalls, type StepRun } from "./run-step.ts";

/** Options of {@link runWorkerService}. */
export interface WorkerServiceOptions {
  /** The started service (connection, logger, tracing, shutdown). */
  readonly service: ServiceContext;
  /** The agent type's name; its card, durable and subjects use it. */
  readonly agent: string;
  readonly version: string;
  /** The agent's description for planners (its card). */
  readonly description: string;
  readonly env: WorkerEnv;
  /** The agent's own tool set (least privilege: no other agent's tools); may change while it runs. */
  readonly registry: ToolRegistry;
}

/**
 * Runs the worker part of an agent replica in `service`: provisions the agent's one durable
 * consumer (`<agent>-agent` on `work.<agent>.>`, ack_wait WORK_ACK_WAIT_MS) shared by every
 * replica, publishes its card and heartbeats ({@link AgentPresence}), then runs each step — its
 * explicit tool calls, or the agent loop (ReAct) with the worker model when the step has none —
 * publishes the {@link StepResult} on `results.<taskId>.<stepId>`, then acks. Bad work items yield
 * a failed result naming the field, never a crash.
 */
export async function runWorkerService(options: WorkerServiceOptions): Promise<ServiceContext> {
  const { agent, env, service, registry } = options;
  const ledgers = await BudgetLedgers.open(service.nc);
  const llm = createChatProvider(env, { logger: service.logger });
  const spec = { ...workConsumer(agent), ackWaitMs: env.WORK_ACK_WAIT_MS };
  await ensureConsumer(await service.js.jetstreamManager(), spec);
  const effects = await KvEffectLedger.open(service.nc, service.instanceId, {
    logger: service.logger.child({ component: "effect-ledger" }),
  });
  const tasks = await TaskStore.open(service.nc);
  const aborts = new TaskAborts(service);
  const audit = AuditTrail.forService(service, `agent.${agent}`, { includeArgs: loadConfig(AuditEnv).AUDIT_INCLUDE_ARGS });
  const checkpoints = await openKv(service.nc, KV_BUCKETS.checkpoints);
  const breakers = new ToolBreakers({
    threshold: env.TOOL_BREAKER_THRESHOLD,
    halfOpenAfterMs: env.TOOL_BREAKER_HALF_OPEN_MS,
    onStateChange: (tool, state) => service.logger.warn({ tool, circuit: state }, `circuit of ${tool} is ${state}`),
  });
  const runner: StepRunner = { registry, ledgers, llm, effects, breakers, tasks, aborts, audit, checkpoints, nc: service.nc };
  const loop = new ConsumerLoop(
    service.js,
    { spec, concurrency: env.WORKER_CONCURRENCY, template: `work.${agent}.{taskId}.{stepId}`, logger: service.logger, nc: service.nc },
    (msg, signal) => handleWork(service, runner, options, msg, signal),
  );
  const presence = await AgentPresence.start(service, {
    agent,
    version: options.version,
    description: options.description,
    registry,
    llm: llm !== undefined,
    concurrency: env.WORKER_CONCURRENCY,
    inFlight: () => loop.inFlight,
  });
  loop.start();
  auditRegistration(audit, agent, options.version, registry);
  registry.onChange(() => auditRegistration(audit, agent, options.version, registry));
  // Shutdown steps run last-registered first: stop pulling and finish in-flight steps, then
  // deregister the replica and send the audit entries still in flight.
  service.onShutdown(() => audit.flush());
  service.onShutdown(() => presence.stop());
  service.onShutdown((graceMs) => loop.stop(graceMs));
  service.onShutdown(async () => aborts.close());
  service.logger.info(
    {
      agent,
      version: options.version,
      tools: registry.names(),
      concurrency: env.WORKER_CONCURRENCY,
      llm: llm ? { provider: llm.provider.name, model: llm.models.worker } : "none",
    },
    "worker ready",
  );
  return service;
}

/** What running a step can use. */
interface StepRunner {
  readonly registry: ToolRegistry;
  readonly ledgers: BudgetLedgers;
  readonly llm: LlmSetup | undefined;
  readonly effects: KvEffectLedger;
  readonly breakers: ToolBreakers;
  readonly tasks: TaskStore;
  readonly aborts: TaskAborts;
  readonly audit: AuditTrail;
  /** The bucket `baton_checkpoints`: conversations of LLM loops paused for approval. */
  readonly checkpoints: Awaited<ReturnType<typeof openKv>>;
  /** The connection (to wait for it across a broker restart). */
  readonly nc: ServiceContext["nc"];
}

/**
 * Where this dispatch stands now ({@link dispatchStanding}), read again from task state after the
 * step ran. A state that cannot be read (the broker away for longer than the store's retries)
 * counts as `unknown`: the step then reports as usual.
 */
async function standingOf(runner: StepRunner, work: StepWork, log: Logger): Promise<DispatchStanding> {
  try {
    const current = await runner.tasks.get(work.taskId);
    return current ? dispatchStanding(current.state, work) : "unknown";
  } catch (error) {
    log.warn({ err: error }, "could not read the task's state after the step; reporting the step anyway");
    return "unknown";
  }
}

/** Audits the agent's card as this replica registers it: version and tools with risk tiers (one entry per distinct card). */
function auditRegistration(audit: AuditTrail, agent: string, version: string, registry: ToolRegistry): void {
  const tools = registry.cards().map((c) => ({ name: c.name, riskTier: c.riskTier, idempotent: c.idempotent }));
  audit.record({
    id: auditId("agent_registered", agent, version, JSON.stringify(tools)),
    kind: "agent_registered",
    agent,
    details: { version, tools },
  });
}

async function handleWork(
  service: ServiceContext,
  runner: StepRunner,
  options: WorkerServiceOptions,
  msg: JsMsg,
  shutdownSignal: AbortSignal,
): Promise<void | "term"> {
  const { agent, env } = options;
  const startedAt = new Date();
  const decoded = decodeJson(msg.data, StepWork);
  if (!decoded.ok) {
    await reportUndecodable(service, agent, msg, decoded.error, startedAt);
    return "term";
  }
  const work = decoded.value;
  const log = service.logger.child({ taskId: work.taskId, stepId: work.stepId, attempt: work.attempt });
  const compensation = work.kind === "compensation";
  if (!compensation && runner.aborts.hasEnded(work.taskId)) {
    log.info({ kind: work.kind }, "step skipped: its task has ended (abort received)");
    return undefined;
  }
  // Task state is read only when the delivery may be stale (a redelivery, work that waited, a
  // broker restart lately: see isFreshDelivery) or the work does not say whether it is budgeted.
  const fresh = work.budgeted !== undefined && isFreshDelivery(msg, service.nc);
  const task = fresh ? undefined : await runner.tasks.get(work.taskId);
  // The shared budget ledger is read only for a task with limits (a task state we could not
  // read is treated as limited, to stay on the safe side).
  const budgeted = fresh ? work.budgeted === true : !task || hasBudget(task.state);
  const overBudget = budgeted ? await runner.ledgers.overBudget(work.taskId) : undefined;
  if (task && task.state.status !== (compensation ? "compensating" : "running")) {
    // Cancelled, timed out or failed while this step waited in the stream: nothing to do.
    log.info({ task: task.state.status, kind: work.kind }, "step skipped: its task has ended");
    return undefined;
  }
  if (task && dispatchStanding(task.state, work) === "stale") {
    // An older dispatch of a step that has its result, or was dispatched again (e.g. a copy the
    // broker brought back after a restart): running it would change nothing.
    log.info({ kind: work.kind }, "step skipped: this dispatch was superseded");
    return undefined;
  }
  trace
    .getActiveSpan()
    ?.setAttributes({ "baton.task.id": work.taskId, "baton.step.id": work.stepId, "baton.agent": agent, "baton.work.kind": work.kind });
  if (!compensation) {
    await publishTaskEvent(
      service.js,
      { type: "step.started", taskId: work.taskId, stepId: work.stepId, agent, worker: service.instanceId, attempt: work.attempt },
      log,
      { agent },
    );
  }
  log.info({ tools: work.toolCalls.map((c) => c.tool), kind: work.kind }, "step started");
  // A compensation runs after the task failed: the abort broadcast of that failure must not stop it.
  const aborted = compensation ? { signal: new AbortController().signal, release() {} } : runner.aborts.register(work.taskId);
  // A timer cleared when the step ends (AbortSignal.timeout's would live on for the whole step timeout).
  const stepTimeout = new AbortController();
  const timer = setTimeout(
    () => stepTimeout.abort(new DOMException("step timed out", "TimeoutError")),
    stepLimitMs(work, env.STEP_TIMEOUT_MS),
  );
  const signal = AbortSignal.any([shutdownSignal, aborted.signal, stepTimeout.signal]);
  const outcome = await runStep(work, runner, options, signal, overBudget, service.instanceId).finally(() => {
    clearTimeout(timer);
    aborted.release();
  });
  if (aborted.signal.aborted) {
    log.info("step aborted: its task was cancelled or timed out");
    return undefined;
  }
  if (shutdownSignal.aborted) {
    // Shutdown's grace ran out mid-step: the loop has handed the message back; report nothing.
    throw new RetryLaterError(0, { code: "INTERNAL", message: "worker shutting down" });
  }
  let run: StepRun & { usage?: Usage };
  if (outcome.status === "awaiting_approval") {
    const tooLarge = await reportPaused(service, runner, work, agent, outcome, startedAt, log);
    if (!tooLarge) return undefined;
    run = { status: "failed", toolCalls: outcome.toolCalls, error: tooLarge, usage: outcome.usage };
  } else run = outcome;
  if (run.status === "failed" && run.error?.retryable) {
    // Whether the task still waits for this dispatch: a task that ended meanwhile (another step
    // failed it, its deadline passed) gets no `step.retrying`, and no retry, from this step.
    if ((await standingOf(runner, work, log)) === "stale") {
      log.info({ status: run.status, kind: work.kind }, "step failed after its task moved on: not retried");
      return undefined;
    }
    await retryOrGiveUp(service, work, run.error, msg, options, log);
  }
  const finishedAt = new Date();
  const durationMs = finishedAt.getTime() - startedAt.getTime();
  const usage = run.usage ?? { toolCalls: run.toolCalls.length, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  const span = trace.getActiveSpan();
  span?.setAttributes({
    "gen_ai.usage.input_tokens": usage.inputTokens,
    "gen_ai.usage.output_tokens": usage.outputTokens,
    "baton.cost_usd": usage.costUsd,
  });
  // No `step.completed` / `step.failed` from here: the supervisor announces the step's end as it
  // records this result (a result the task no longer waits for is ignored, with no event).
  await publishResult(service, {
    kind: work.kind,
    taskId: work.taskId,
    stepId: work.stepId,
    agent,
    dispatchId: work.dispatchId,
    status: run.status,
    ...(run.output !== undefined ? { output: run.output } : {}),
    toolCalls: run.toolCalls,
    ...(run.error ? { error: run.error } : {}),
    attempt: work.attempt,
    worker: service.instanceId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs,
    usage,
  });
  log.info({ status: run.status, durationMs, error: run.error?.code }, "step finished");
  if (work.approval?.checkpoint) {
    // The resumed conversation is done with: its checkpoint goes (else it expires after 7 days).
    await runner.checkpoints
      .delete(work.approval.checkpoint)
      .catch((error: unknown) => log.warn({ err: error }, "could not delete a used checkpoint"));
  }
  // A failure that retrying cannot fix is reported above, then terminated (not redelivered).
  return run.status === "failed" && !run.error?.retryable ? "term" : undefined;
}

/**
 * A retryable failure (timeout, connection loss, 429/5xx, transient tool failure) is retried
 * by redelivery: `step.retrying`, then a `nak` with the step's backoff (exponential with full
 * jitter). Returns normally once the attempts — the step's `retry.maxAttempts`, else
 * STEP_MAX_ATTEMPTS, at most the consumer's max_deliver — are spent: the failure is reported.
 * @throws RetryLaterError to have the message redelivered.
 */
async function retryOrGiveUp(
  service: ServiceContext,
  work: StepWork,
  error: ErrorInfo,
  msg: JsMsg,
  options: WorkerServiceOptions,
  log: Logger,
): Promise<void> {
  const { env, agent } = options;
  const delivery = msg.info.deliveryCount;
  const maxAttempts = Math.min(work.retry?.maxAttempts ?? env.STEP_MAX_ATTEMPTS, workConsumer(agent).maxDeliver);
  if (delivery >= maxAttempts) {
    log.warn({ delivery, maxAttempts, code: error.code }, "retryable failure, attempts spent: reporting it");
    return;
  }
  const delayMs = backoffDelayMs(
    delivery,
    work.retry?.initialDelayMs ?? env.STEP_RETRY_INITIAL_MS,
    work.retry?.maxDelayMs ?? env.STEP_RETRY_MAX_MS,
  );
  await publishTaskEvent(
    service.js,
    { type: "step.retrying", taskId: work.taskId, stepId: work.stepId, agent, delivery, delayMs, error },
    log,
    { agent },
  );
  log.warn({ delivery, maxAttempts, delayMs, code: error.code }, "retryable failure: nak with backoff");
  throw new RetryLaterError(delayMs, error);
}

/**
 * Runs a step: refused when the task is over budget (the ledger is shared by every service);
 * explicit tool calls when the plan gave them; otherwise the agent loop with the worker model.
 */
type RunOutcome =
  | (StepRun & { usage?: Usage })
  | {
      readonly status: "awaiting_approval";
      readonly toolCalls: StepRun["toolCalls"];
      readonly usage: Usage;
      readonly pending: PendingApproval;
    };

async function runStep(
  work: StepWork,
  runner: StepRunner,
  options: WorkerServiceOptions,
  signal: AbortSignal,
  overBudget: string | undefined,
  instanceId: string,
): Promise<RunOutcome> {
  const { agent, env } = options;
  if (work.agent !== agent) {
    return {
      status: "failed",
      toolCalls: [],
      error: { code: "UNKNOWN_AGENT", message: `work for agent "${work.agent}" reached the ${agent} agent`, retryable: false },
    };
  }
  if (overBudget) {
    return {
      status: "failed",
      toolCalls: [],
      error: { code: "BUDGET_EXCEEDED", message: `task over budget: ${overBudget}`, retryable: false },
    };
  }
  const onCall = auditToolCalls(runner.audit, work, agent, instanceId);
  if (work.toolCalls.length > 0 || !runner.llm) {
    const refused = checkExplicitApprovals(work);
    if (refused) return { status: "failed", toolCalls: [], error: refused };
    return runStepToolCalls(work, runner.registry, signal, {
      maxOutputBytes: env.MAX_TOOL_OUTPUT_BYTES,
      recordArgs: env.LOG_PAYLOADS,
      effects: runner.effects,
      breakers: runner.breakers,
      onCall,
    });
  }
  let resume: LoopCheckpoint | undefined;
  if (work.approval?.checkpoint) {
    const checkpoint = work.approval.checkpoint;
    const entry = await retryWhileUnavailable(() => runner.checkpoints.get(checkpoint), {
      what: `read the paused conversation ${checkpoint}`,
      forMs: KV_RETRY_MS,
      nc: runner.nc,
    });
    if (!entry || entry.operation !== "PUT") {
      return {
        status: "failed",
        toolCalls: [],
        error: {
          code: "VALIDATION_FAILED",
          message: `the paused conversation ${work.approval.checkpoint} is gone (checkpoints are kept 7 days): the step cannot resume`,
          retryable: false,
        },
      };
    }
    resume = entry.json<LoopCheckpoint>();
  }
  return runAgentLoop({
    provider: runner.llm.provider,
    model: runner.llm.models.worker,
    registry: runner.registry,
    work,
    signal,
    budget: runner.ledgers.guard(work.taskId),
    maxOutputBytes: env.MAX_TOOL_OUTPUT_BYTES,
    recordToolArgs: env.LOG_PAYLOADS,
    effects: runner.effects,
    breakers: runner.breakers,
    onToolCall: onCall,
    ...(work.approval
      ? { approval: { gated: work.approval.gated, decisions: work.approval.decisions, ...(resume ? { resume } : {}) } }
      : {}),
    limits: {
      maxTurns: env.AGENT_MAX_TURNS,
      maxStepTokens: env.STEP_MAX_TOKENS,
      maxToolResultChars: env.TOOL_RESULT_MAX_CHARS,
      summarizeAfterChars: env.AGENT_SUMMARIZE_AFTER_CHARS,
      keepLastTurns: env.AGENT_KEEP_LAST_TURNS,
      maxOutputTokens: runner.llm.maxOutputTokens,
    },
  });
}

/**
 * Audits each tool call of a step as it ends (`tool_call`, on `audit.in.agent.<agent>`): one
 * entry per call run by this dispatch, its id derived from the dispatch and the call's place.
 */
function auditToolCalls(audit: AuditTrail, work: StepWork, agent: string, worker: string): NonNullable<ExecuteOptions["onCall"]> {
  let n = 0;
  return (observed) => {
    n += 1;
    const { result } = observed;
    audit.recordToolCall({
      id: auditId("tool_call", work.dispatchId, String(work.attempt), String(n)),
      taskId: work.taskId,
      stepId: work.stepId,
      agent,
      tool: result.tool,
      riskTier: observed.riskTier ?? "external",
      worker,
      args: result.args,
      ...(observed.effectId ? { effectId: observed.effectId } : {}),
      status: result.ok ? (result.replayed ? "replayed" : "ok") : "error",
      ...(result.ok ? {} : { code: result.error.code }),
      durationMs: result.durationMs,
    });
  };
}

/**
 * An LLM loop paused before gated calls: its conversation is saved in `baton_checkpoints` under
 * `<agent>.<taskId>.<stepId>.<dispatchId>`, and a result `awaiting_approval` naming the calls
 * (and that key) goes to the supervisor, which asks a person. The work is then acked: nothing
 * holds a worker while the person decides.
 * @returns undefined when reported; the failure to report instead when the conversation is too
 *   large to save (over the server's max_payload).
 */
async function reportPaused(
  service: ServiceContext,
  runner: StepRunner,
  work: StepWork,
  agent: string,
  run: Extract<RunOutcome, { status: "awaiting_approval" }>,
  startedAt: Date,
  log: Logger,
): Promise<ErrorInfo | undefined> {
  const key = `${agent}.${work.taskId}.${work.stepId}.${work.dispatchId}`;
  const saved = JSON.stringify(run.pending.checkpoint);
  // A KV value is one message: it must fit the server's max_payload (headers and key aside).
  const limit = (service.nc.info?.max_payload ?? 1_048_576) - 4_096;
  const bytes = Buffer.byteLength(saved);
  if (bytes > limit) {
    log.error({ bytes, limit }, "paused conversation too large to save: step failed");
    return {
      code: "STEP_FAILED",
      message: `the conversation to save while waiting for approval is ${bytes} bytes; the server takes at most ${limit} (max_payload): lower MAX_TOOL_OUTPUT_BYTES or raise max_payload`,
      retryable: false,
    };
  }
  await retryWhileUnavailable(() => runner.checkpoints.put(key, saved), {
    what: `save the paused conversation ${key}`,
    forMs: KV_RETRY_MS,
    nc: service.nc,
    logger: log,
  });
  if (work.approval?.checkpoint && work.approval.checkpoint !== key) {
    // Paused again after a resume: the new checkpoint holds everything the old one did.
    await runner.checkpoints
      .delete(work.approval.checkpoint)
      .catch((error: unknown) => log.warn({ err: error }, "could not delete a superseded checkpoint"));
  }
  const calls: ApprovalCall[] = run.pending.calls.map((c) => ({
    tool: c.tool,
    args: c.args,
    argsHash: c.argsHash,
    riskTier: runner.registry.get(c.tool)?.riskTier ?? "external",
    ...(c.provenance ? { provenance: [...c.provenance] } : {}),
  }));
  const finishedAt = new Date();
  await publishResult(service, {
    kind: work.kind,
    taskId: work.taskId,
    stepId: work.stepId,
    agent,
    dispatchId: work.dispatchId,
    status: "awaiting_approval",
    pending: { calls, checkpoint: key },
    toolCalls: run.toolCalls,
    attempt: work.attempt,
    worker: service.instanceId,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    usage: run.usage,
  });
  log.info({ tools: calls.map((c) => c.tool), checkpoint: key }, "step paused for approval");
  return undefined;
}

/**
 * A work item that fails its schema still names its task and step in the subject
 * (`work.<agent>.<taskId>.<stepId>`): report a failed result — when its `dispatchId` can still be
 * read, so the supervisor accepts it — so the task does not wait for its deadline.
 */
async function reportUndecodable(service: ServiceContext, agent: string, msg: JsMsg, error: ErrorInfo, startedAt: Date): Promise<void> {
  const [, , taskToken, stepToken] = msg.subject.split(".");
  const taskId = TaskId.safeParse(taskToken);
  const stepId = StepId.safeParse(stepToken);
  const raw = readJsonObject(msg.data);
  const dispatchId = DispatchId.safeParse(raw?.["dispatchId"]);
  const attempt = typeof raw?.["attempt"] === "number" && Number.isInteger(raw["attempt"]) && raw["attempt"] > 0 ? raw["attempt"] : 1;
  service.logger.error({ subject: msg.subject, error }, "invalid work item");
  // No task, step or dispatch to report to: logged above, then terminated.
  if (!taskId.success || !stepId.success || !dispatchId.success) return;
  const now = new Date();
  await publishResult(service, {
    taskId: taskId.data,
    stepId: stepId.data,
    agent,
    dispatchId: dispatchId.data,
    status: "failed",
    toolCalls: [],
    error,
    attempt,
    worker: service.instanceId,
    startedAt: startedAt.toISOString(),
    finishedAt: now.toISOString(),
    durationMs: now.getTime() - startedAt.getTime(),
    usage: { toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
  });
}

/** `data` parsed as a JSON object, or undefined. */
function readJsonObject(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(data));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Publishes a step result on `results.<agent>.<taskId>.<stepId>` with `Nats-Msg-Id`
 * `result-<dispatchId>`, so a redelivered step's second report is dropped, and nobody who did not
 * receive the work can take that id first.
 */
async function publishResult(service: ServiceContext, result: Omit<z.input<typeof StepResult>, "schemaVersion">): Promise<void> {
  // Error messages can quote what a tool or a provider said, credentials included: they leave
  // the worker cleared of them (its own BatonErrors are already).
  const cleared = {
    ...result,
    ...(result.error ? { error: redactErrorInfo(result.error) } : {}),
    toolCalls: result.toolCalls.map((c) => (c.ok ? c : { ...c, error: redactErrorInfo(c.error) })),
  };
  await publishMessage(
    service.js,
    subjects.result(result.agent, result.taskId, result.stepId),
    StepResult,
    { schemaVersion: 1, ...cleared },
    {
      msgId: `result-${result.dispatchId}`,
      template: "results.{agent}.{taskId}.{stepId}",
      // The step is done: a result the broker did not ack (a nats-server restart) is sent again
      // rather than the whole step run again after a nak.
      retryForMs: RESULT_RETRY_MS,
    },
  );
}

/**
 * How long a step may run, in ms: its plan's `timeoutMs` (else `defaultMs`, STEP_TIMEOUT_MS),
 * and never past its task's deadline (at least 1 ms).
 */
export function stepLimitMs(work: Pick<StepWork, "timeoutMs" | "deadlineAt">, defaultMs: number): number {
  const own = work.timeoutMs ?? defaultMs;
  if (!work.deadlineAt) return own;
  return Math.max(1, Math.min(own, Date.parse(work.deadlineAt) - Date.now()));
}

/** How long a checkpoint read or write is tried again while the broker is unavailable, in ms. */
const KV_RETRY_MS = 20_000;

/** How long a step result is published again while the broker is unavailable, in ms. */
const RESULT_RETRY_MS = 30_000;
