import { addUsage, subjects, SynthesisRequest, TaskCompleted, ZERO_USAGE } from "@baton/contracts";
import { decodeJson, publishMessage, publishTaskEvent, type ServiceContext, type TaskStore } from "@baton/core";
import type { MemoryStore } from "@baton/memory";
import type { JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import { keyFacts, renderReport } from "./report.ts";

/**
 * Handles one synthesis request: renders the answer, stores the memory summary (upsert by
 * taskId), publishes `tasks.completed.<taskId>` (Nats-Msg-Id `outcome-<taskId>`, so a
 * redelivery cannot publish a second outcome), marks the task completed, emits `completed`.
 */
export async function handleSynthesis(service: ServiceContext, store: TaskStore, memory: MemoryStore, msg: JsMsg): Promise<void> {
  const decoded = decodeJson(msg.data, SynthesisRequest);
  if (!decoded.ok) {
    service.logger.error({ subject: msg.subject, error: decoded.error }, "invalid synthesis request");
    return;
  }
  const request = decoded.value;
  const log = service.logger.child({ taskId: request.taskId });
  trace.getActiveSpan()?.setAttribute("baton.task.id", request.taskId);
  const finishedAt = new Date();
  const durationMs = finishedAt.getTime() - Date.parse(request.acceptedAt);
  const answer = renderReport(request, durationMs);
  const usage = request.steps.reduce((sum, s) => addUsage(sum, s.usage), ZERO_USAGE);
  await memory.put({
    schemaVersion: 1,
    taskId: request.taskId,
    goal: request.goal,
    digest: answer.slice(0, 2_000),
    keyFacts: keyFacts(request),
    agents: [...new Set(request.steps.map((s) => s.agent))],
    tools: [...new Set(request.steps.flatMap((s) => s.toolCalls.map((c) => c.tool)))],
    usage,
    createdAt: finishedAt.toISOString(),
  });
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
  const marked = await store.update(request.taskId, (state) =>
    state.status === "synthesizing"
      ? { state: { ...state, status: "completed" as const, finishedAt: finishedAt.toISOString() } }
      : undefined,
  );
  if (marked) await publishTaskEvent(service.js, { type: "completed", taskId: request.taskId, durationMs }, log);
  log.info({ durationMs, answerBytes: answer.length }, "task completed");
}
