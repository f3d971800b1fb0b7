import { type ErrorInfo, StepResult, StepWork, subjects, TaskRejected, ZERO_USAGE } from "@baton/contracts";
import { decodeJson, extractTraceContext, type Logger, publishMessage } from "@baton/core";
import { context } from "@opentelemetry/api";
import type { DeadLetterDeps } from "./handler.ts";
import type { DeadLetter } from "./move.ts";

/** The error a dead-lettered step or submission reports. */
export function deadLetteredError(letter: DeadLetter): ErrorInfo {
  const { record } = letter;
  return {
    code: "DEAD_LETTERED",
    message: `${record.subject} was given up after ${record.deliveries} deliveries to consumer ${record.consumer}; kept in the dead-letter queue as #${letter.dlqSeq} (baton dlq show ${letter.dlqSeq})`,
    retryable: false,
  };
}

/**
 * Tells the rest of the system about a dead letter, in the original message's trace:
 * - work: a failed {@link StepResult} (`DEAD_LETTERED`, the work's kind, attempt and dispatch id,
 *   msgId `result-<dispatchId>-dlq`) on `results.<agent>.<taskId>.<stepId>`, so
 *   the supervisor fails the task or goes on according to the plan's failure policy (or records
 *   the compensation as failed and moves on; recording it publishes the step's `step.failed`);
 * - a submission: `tasks.rejected` with `DEAD_LETTERED`;
 * - a synthesis request: the task fails with `DEAD_LETTERED` (`deps.failSynthesis`), so nothing
 *   sends it again and the client gets an outcome;
 * - anything else (results, other streams): an error log line; the message waits in the DLQ for
 *   `baton dlq replay`.
 * Every publish has a deterministic msgId, so reporting twice (a redelivered advisory) is harmless.
 */
export async function reportDeadLetter(
  deps: Pick<DeadLetterDeps, "js" | "instanceId" | "failSynthesis">,
  letter: DeadLetter,
  log: Logger,
): Promise<void> {
  await context.with(extractTraceContext(letter.headers), () => report(deps, letter, log));
}

async function report(deps: Pick<DeadLetterDeps, "js" | "instanceId" | "failSynthesis">, letter: DeadLetter, log: Logger): Promise<void> {
  const { record, kind } = letter;
  const { js } = deps;
  const hint = { dlqSeq: letter.dlqSeq, replay: `baton dlq replay ${letter.dlqSeq}` };
  switch (kind.kind) {
    case "work": {
      const decoded = decodeJson(letter.data, StepWork);
      if (!decoded.ok) {
        log.error({ ...hint, error: decoded.error }, "dead-lettered work is not a valid StepWork: no step result published");
        return;
      }
      const work = decoded.value;
      const error = deadLetteredError(letter);
      const finishedAt = record.deadLetteredAt;
      const durationMs = Math.max(0, Date.parse(finishedAt) - Date.parse(work.dispatchedAt));
      await publishMessage(
        js,
        subjects.result(work.agent, work.taskId, work.stepId),
        StepResult,
        {
          schemaVersion: 1,
          kind: work.kind,
          taskId: work.taskId,
          stepId: work.stepId,
          agent: work.agent,
          dispatchId: work.dispatchId,
          status: "failed",
          toolCalls: [],
          error,
          attempt: work.attempt,
          worker: deps.instanceId,
          startedAt: work.dispatchedAt,
          finishedAt,
          durationMs,
          usage: ZERO_USAGE,
        },
        { msgId: `result-${work.dispatchId}-dlq`, template: "results.{agent}.{taskId}.{stepId}" },
      );
      // The supervisor announces `step.failed` when it records this result (a compensation's
      // failure shows in the outcome only).
      log.error({ ...hint, attempt: work.attempt, workKind: work.kind }, "step work dead-lettered: failed step result published");
      return;
    }
    case "submission": {
      await publishMessage(
        js,
        subjects.rejected,
        TaskRejected,
        {
          schemaVersion: 1,
          taskId: kind.taskId ?? null,
          error: deadLetteredError(letter),
          receivedBytes: letter.data.byteLength,
          at: record.deadLetteredAt,
        },
        { msgId: `rejected-dlq-${record.stream}-${record.streamSeq}`, template: subjects.rejected },
      );
      log.error(hint, "submission dead-lettered: tasks.rejected published");
      return;
    }
    case "result":
      log.error(hint, "step result dead-lettered: the task waits for it until replayed or timed out");
      return;
    case "synthesis":
      if (deps.failSynthesis) {
        // Not sent again (no loop of republished synthesis): the task fails, naming the dead letter.
        await deps.failSynthesis(kind.taskId, deadLetteredError(letter), log);
        log.error(hint, "synthesis request dead-lettered: the task failed with DEAD_LETTERED");
      } else log.error(hint, "synthesis request dead-lettered: the task waits for it until replayed");
      return;
    case "other":
      log.error(hint, "message dead-lettered");
      return;
  }
}
