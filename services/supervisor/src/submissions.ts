import { randomUUID } from "node:crypto";
import { type ErrorInfo, type FieldIssue, subjects, TaskRejected, TaskSubmission, toFieldIssues } from "@baton/contracts";
import { currentTraceCarrier, type Logger, publishMessage, publishTaskEvent, type ServiceContext } from "@baton/core";
import type { JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import type { SupervisorEnv } from "./config.ts";
import { applyEffects } from "./effects.ts";
import { newTaskState, pendingEffects, startTask } from "./task-machine.ts";
import type { TaskStore } from "@baton/core";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Handles one message from `tasks.submit`: size limit, JSON, schema and plan checks (each
 * failure → `tasks.rejected` naming the fields), then idempotent acceptance keyed by taskId
 * (KV create), the `accepted` and `planned` events, and dispatch of the ready steps.
 */
export async function handleSubmission(service: ServiceContext, env: SupervisorEnv, store: TaskStore, msg: JsMsg): Promise<void> {
  const { js, logger } = service;
  const size = msg.data.byteLength;
  if (size > env.MAX_SUBMISSION_BYTES) {
    return reject(service, null, size, {
      code: "PAYLOAD_TOO_LARGE",
      message: `submission is ${size} bytes; the limit is ${env.MAX_SUBMISSION_BYTES} (MAX_SUBMISSION_BYTES)`,
      retryable: false,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(msg.data));
  } catch (error) {
    return reject(service, null, size, {
      code: "INVALID_JSON",
      message: `submission is not valid UTF-8 JSON: ${(error as Error).message}`,
      retryable: false,
    });
  }
  const claimedId = raw !== null && typeof raw === "object" && "taskId" in raw && typeof raw.taskId === "string" ? raw.taskId : null;
  const parsed = TaskSubmission.safeParse(raw);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error);
    return reject(service, claimedId, size, {
      code: "VALIDATION_FAILED",
      message: `invalid submission: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
      retryable: false,
      issues,
    });
  }
  const submission = parsed.data;
  const planError = checkRunnable(submission);
  if (planError) return reject(service, claimedId, size, planError);
  const plan = submission.plan;
  if (!plan) throw new Error("unreachable: checkRunnable guarantees a plan");

  const taskId = submission.taskId ?? randomUUID();
  const log = logger.child({ taskId });
  trace.getActiveSpan()?.setAttribute("baton.task.id", taskId);
  const now = new Date();
  const state = newTaskState({
    taskId,
    goal: submission.goal,
    plan,
    acceptedAt: now,
    timeoutMs: submission.timeoutMs ?? env.TASK_TIMEOUT_MS,
    ...currentTraceCarrier(),
    ...(submission.metadata ? { metadata: submission.metadata } : {}),
  });
  if (!(await store.create(state))) {
    const existing = await store.get(taskId);
    if (existing && msg.info.deliveryCount > 1) {
      // Our own earlier attempt stored the task and then crashed: finish its side effects.
      log.warn("redelivered submission: replaying pending effects");
      await applyEffects(js, pendingEffects(existing.state), log);
    } else {
      log.info({ status: existing?.state.status }, "duplicate submission ignored (taskId is the idempotency key)");
    }
    return;
  }
  log.info({ steps: plan.steps.length }, "task accepted");
  await publishTaskEvent(js, { type: "accepted", taskId, goal: submission.goal }, log);
  await publishTaskEvent(
    js,
    { type: "planned", taskId, source: "submission", steps: plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })) },
    log,
  );
  const transition = startTask(state, now);
  const stored = await store.update(taskId, () => transition);
  if (stored) await applyEffects(js, stored, log);
}

/**
 * A plan must be runnable without an LLM in this release: every step needs explicit tool calls.
 * @returns the rejection, or undefined when the submission can run.
 */
function checkRunnable(submission: TaskSubmission): ErrorInfo | undefined {
  if (!submission.plan) {
    return {
      code: "PLANNER_UNAVAILABLE",
      message: "the submission has a goal but no plan, and no LLM planner is configured: submit an explicit plan",
      retryable: false,
      issues: [{ path: "plan", message: "required while no LLM planner is configured" }],
    };
  }
  const issues: FieldIssue[] = submission.plan.steps.flatMap((step, i) =>
    step.toolCalls.length === 0
      ? [{ path: `plan.steps.${i}.toolCalls`, message: "a step without tool calls needs an LLM worker, which is not configured" }]
      : [],
  );
  if (issues.length === 0) return undefined;
  return {
    code: "LLM_UNAVAILABLE",
    message: `plan cannot run without an LLM: ${issues.map((i) => i.path).join(", ")}`,
    retryable: false,
    issues,
  };
}

async function reject(service: ServiceContext, taskId: string | null, receivedBytes: number, error: ErrorInfo): Promise<void> {
  const log: Logger = service.logger.child({ taskId });
  log.warn({ code: error.code, issues: error.issues }, `submission rejected: ${error.message}`);
  await publishMessage(
    service.js,
    subjects.rejected,
    TaskRejected,
    { schemaVersion: 1, taskId, error, receivedBytes, at: new Date().toISOString() },
    { template: subjects.rejected },
  );
}
