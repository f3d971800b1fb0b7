import { DLQ_STREAM, type ErrorInfo, MaxDeliveriesAdvisory, STREAMS } from "@baton/contracts";
import { type AuditTrail, auditId } from "@baton/audit";
import { decodeJson, type Logger, TransientError } from "@baton/core";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { trace } from "@opentelemetry/api";
import { moveToDeadLetterQueue } from "./move.ts";
import { reportDeadLetter } from "./report.ts";

/** What the dead-letter handler works with. */
export interface DeadLetterDeps {
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly logger: Logger;
  /** Reported as the `worker` of the failed step results it publishes. */
  readonly instanceId: string;
  /** Where each dead letter is recorded (`dead_lettered`). */
  readonly audit?: AuditTrail;
  /**
   * Ends the task whose synthesis request was dead-lettered (with `error`, `DEAD_LETTERED`);
   * without it the task waits for `baton dlq replay`.
   */
  readonly failSynthesis?: (taskId: string, error: ErrorInfo, log: Logger) => Promise<void>;
}

/**
 * Handles one MAX_DELIVERIES advisory from BATON_ADVISORIES: moves the message it names to
 * BATON_DLQ and reports it (see {@link reportDeadLetter}). An invalid advisory, or one whose
 * message is gone with no copy in the DLQ, is logged and acked. NATS failures are retried.
 */
export async function handleAdvisory(deps: DeadLetterDeps, msg: JsMsg): Promise<void> {
  const decoded = decodeJson(msg.data, MaxDeliveriesAdvisory);
  if (!decoded.ok) {
    deps.logger.error({ subject: msg.subject, error: decoded.error }, "invalid MAX_DELIVERIES advisory ignored");
    return;
  }
  const advisory = decoded.value;
  const log = deps.logger.child({ stream: advisory.stream, consumer: advisory.consumer, streamSeq: advisory.stream_seq });
  if (advisory.stream === DLQ_STREAM.name) {
    log.warn("advisory about the dead-letter queue itself ignored");
    return;
  }
  if (!STREAMS.some((s) => s.name === advisory.stream)) {
    // Not one of Baton's streams: not ours to move (and the supervisor's credentials may not read it).
    log.info("advisory about another stream than Baton's ignored");
    return;
  }
  let letter: Awaited<ReturnType<typeof moveToDeadLetterQueue>>;
  try {
    letter = await moveToDeadLetterQueue(deps.js, deps.jsm, advisory, new Date());
  } catch (error) {
    throw new TransientError(`could not move ${advisory.stream} #${advisory.stream_seq} to ${DLQ_STREAM.name}`, error);
  }
  if (!letter) {
    log.info("message already gone and not in the dead-letter queue: nothing to do");
    return;
  }
  const { record } = letter;
  const taskLog = log.child({
    ...(record.taskId ? { taskId: record.taskId } : {}),
    ...(record.stepId ? { stepId: record.stepId } : {}),
  });
  trace.getActiveSpan()?.setAttributes({
    "baton.dlq.stream": record.stream,
    "baton.dlq.sequence": letter.dlqSeq,
    ...(record.taskId ? { "baton.task.id": record.taskId } : {}),
    ...(record.stepId ? { "baton.step.id": record.stepId } : {}),
  });
  if (letter.moved) {
    taskLog.warn(
      { subject: record.subject, deliveries: record.deliveries, dlqSeq: letter.dlqSeq },
      `message moved to ${DLQ_STREAM.name} after ${record.deliveries} deliveries`,
    );
  } else {
    taskLog.info({ dlqSeq: letter.dlqSeq }, "redelivered advisory: message already in the dead-letter queue; reporting again");
  }
  deps.audit?.record({
    id: auditId("dead_lettered", record.stream, String(record.streamSeq)),
    kind: "dead_lettered",
    ...(record.taskId ? { taskId: record.taskId } : {}),
    ...(record.stepId ? { stepId: record.stepId } : {}),
    details: {
      stream: record.stream,
      seq: record.streamSeq,
      subject: record.subject,
      consumer: record.consumer,
      deliveries: record.deliveries,
      dlqSeq: letter.dlqSeq,
    },
  });
  await reportDeadLetter(deps, letter, taskLog);
}
