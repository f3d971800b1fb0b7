import {
  addUsage,
  type ErrorInfo,
  sha256Hex,
  subjects,
  SynthesisRequest,
  TaskCompleted,
  TaskFailed,
  type Usage,
  ZERO_USAGE,
} from "@baton/contracts";
import {
  type AgentRegistry,
  BatonError,
  type BudgetLedgers,
  decodeJson,
  type Logger,
  outcomeStored,
  publishMessage,
  publishTaskEvent,
  redact,
  type ServiceContext,
  type TaskStore,
} from "@baton/core";
import { type AuditTrail, auditId } from "@baton/audit";
import { LlmError, type LlmSetup } from "@baton/llm";
import type { MemoryStore } from "@baton/memory";
import type { JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import { llmAnswer } from "./llm-answer.ts";
import { type DisplayOf, keyFacts, planSection, renderReport } from "./report.ts";

/** What the synthesis handler needs. */
export interface SynthesisDeps {
  readonly service: ServiceContext;
  readonly store: TaskStore;
  readonly memory: MemoryStore;
  readonly ledgers: BudgetLedgers;
  /** With an LLM, the answer is written by the synthesizer model; without, by the report template. */
  readonly llm: LlmSetup | undefined;
  /** The agent cards: how each tool's output is best shown in the report. */
  readonly agents: AgentRegistry;
  /** Where each task's end is recorded (`task_completed`, `budget_exceeded`). */
  readonly audit?: AuditTrail;
}

/**
 * Handles one synthesis request: writes the answer (LLM with step citations, or the report
 * template), stores the memory summary (upsert by taskId), publishes `tasks.completed.<taskId>`
 * (Nats-Msg-Id `outcome-<taskId>`, so a redelivery cannot publish a second outcome), marks the
 * task completed and emits `completed`. A task over budget fails with `BUDGET_EXCEEDED`, keeping
 * its step results. Retryable LLM errors are thrown (the request is redelivered with backoff).
 */
export async function handleSynthesis(deps: SynthesisDeps, msg: JsMsg): Promise<void> {
  const { service } = deps;
  const decoded = decodeJson(msg.data, SynthesisRequest);
  if (!decoded.ok) {
    service.logger.error({ subject: msg.subject, error: decoded.error }, "invalid synthesis request");
    return;
  }
  const request = decoded.value;
  const log = service.logger.child({ taskId: request.taskId });
  trace.getActiveSpan()?.setAttribute("baton.task.id", request.taskId);
  if (msg.info.deliveryCount > 1 && (await outcomeStored(service.js, request.taskId))) {
    // An earlier delivery published the outcome and died before acking: finish its bookkeeping
    // without writing or publishing the answer again (subscribers would get it twice).
    log.warn("redelivered synthesis request: outcome already published");
    const now = new Date().toISOString();
    const marked = await deps.store.update(request.taskId, (state) =>
      state.status === "synthesizing" ? { state: { ...state, status: "completed" as const, finishedAt: now } } : undefined,
    );
    if (marked) {
      const durationMs = Date.now() - Date.parse(request.acceptedAt);
      await publishTaskEvent(service.js, { type: "completed", taskId: request.taskId, durationMs }, log);
    }
    return;
  }
  let stepsUsage = request.steps.reduce((sum, s) => addUsage(sum, s.usage), request.planningUsage ?? ZERO_USAGE);
  let answer: string;
  try {
    const written = await writeAnswer(deps, request, log);
    answer = written.answer;
    stepsUsage = addUsage(stepsUsage, written.usage);
  } catch (error) {
    if (error instanceof BatonError && error.code === "BUDGET_EXCEEDED")
      return failOverBudget(deps, request, error.toInfo(), stepsUsage, log);
    throw error;
  }
  const finishedAt = new Date();
  const durationMs = finishedAt.getTime() - Date.parse(request.acceptedAt);
  const usage = stepsUsage;
  // Memory feeds future planners' prompts for as long as it is kept: credentials that a step's
  // output quoted (a token in a ticket's body) are replaced before it is stored.
  await deps.memory.put(
    redact({
      schemaVersion: 1,
      taskId: request.taskId,
      goal: request.goal,
      digest: answer.slice(0, 2_000),
      keyFacts: keyFacts(request),
      agents: [...new Set(request.steps.map((s) => s.agent))],
      tools: [...new Set(request.steps.flatMap((s) => s.toolCalls.map((c) => c.tool)))],
      usage,
      createdAt: finishedAt.toISOString(),
    }),
  );
  await publishMessage(
    service.js,
    subjects.completed(request.taskId),
    TaskCompleted,
    {
      schemaVersion: 1,
      taskId: request.taskId,
      goal: request.goal,
      answer,
      answerFormat: "markdown",
      steps: request.steps,
      timings: { acceptedAt: request.acceptedAt, finishedAt: finishedAt.toISOString(), durationMs },
      usage,
      ...(request.metadata ? { metadata: request.metadata } : {}),
    },
    { msgId: `outcome-${request.taskId}`, template: "tasks.completed.{taskId}" },
  );
  const marked = await deps.store.update(request.taskId, (state) =>
    state.status === "synthesizing"
      ? { state: { ...state, status: "completed" as const, finishedAt: finishedAt.toISOString() } }
      : undefined,
  );
  if (marked) await publishTaskEvent(service.js, { type: "completed", taskId: request.taskId, durationMs, usage }, log);
  deps.audit?.record({
    id: auditId("task_completed", request.taskId),
    kind: "task_completed",
    taskId: request.taskId,
    details: { durationMs, answerSha256: sha256Hex(answer), usage },
  });
  log.info({ durationMs, answerBytes: answer.length, costUsd: usage.costUsd }, "task completed");
}

/**
 * The answer: the LLM's (followed by the plan table) when an LLM is configured, else the
 * report template. An LLM failure other than the budget (after the SDK's retries) falls back to
 * the template, prefixed with a note naming the provider's error.
 */
async function writeAnswer(deps: SynthesisDeps, request: SynthesisRequest, log: Logger): Promise<{ answer: string; usage: Usage }> {
  const started = Date.parse(request.acceptedAt);
  const displayOf: DisplayOf = (agent, tool) => deps.agents.get(agent)?.card.tools.find((t) => t.name === tool)?.display;
  if (!deps.llm) return { answer: renderReport(request, Date.now() - started, displayOf), usage: ZERO_USAGE };
  try {
    const written = await llmAnswer(request, deps.llm, deps.ledgers.guard(request.taskId));
    const answer = `# ${request.goal}\n\n${written.answer}\n\n${planSection(request, Date.now() - started).join("\n")}\n`;
    return { answer, usage: written.usage };
  } catch (error) {
    if (error instanceof LlmError) {
      // Not retried by redelivery: the SDK already retried (LLM_MAX_RETRIES, each attempt within
      // LLM_TIMEOUT_MS), and the step results are all here — the task completes with the report
      // of the step results, saying why the model did not write it.
      log.warn({ err: error }, "LLM synthesis failed; falling back to the report template");
      const note = `> The answer could not be written by the LLM (${error.retryable ? "LLM_UNAVAILABLE" : "LLM_FAILED"}: ${error.message}); this is the report of the step results.\n\n`;
      return { answer: note + renderReport(request, Date.now() - started, displayOf), usage: ZERO_USAGE };
    }
    throw error;
  }
}

async function failOverBudget(deps: SynthesisDeps, request: SynthesisRequest, error: ErrorInfo, usage: Usage, log: Logger): Promise<void> {
  const finishedAt = new Date();
  log.warn({ error: error.message }, "task over budget at synthesis");
  await publishMessage(
    deps.service.js,
    subjects.failed(request.taskId),
    TaskFailed,
    {
      schemaVersion: 1,
      taskId: request.taskId,
      goal: request.goal,
      error,
      steps: request.steps,
      timings: {
        acceptedAt: request.acceptedAt,
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - Date.parse(request.acceptedAt),
      },
      usage,
      ...(request.metadata ? { metadata: request.metadata } : {}),
    },
    { msgId: `outcome-${request.taskId}`, template: "tasks.failed.{taskId}" },
  );
  const marked = await deps.store.update(request.taskId, (state) =>
    state.status === "synthesizing"
      ? { state: { ...state, status: "failed" as const, error, finishedAt: finishedAt.toISOString() } }
      : undefined,
  );
  if (marked) await publishTaskEvent(deps.service.js, { type: "failed", taskId: request.taskId, error, usage }, log);
  deps.audit?.record({
    id: auditId("budget_exceeded", request.taskId),
    kind: "budget_exceeded",
    taskId: request.taskId,
    details: { message: error.message, usage },
  });
}
