import { OUTCOMES_STREAM, subjects } from "@baton/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";

/**
 * True when the task's outcome (`tasks.completed.<taskId>` or `tasks.failed.<taskId>`) is already
 * stored in BATON_OUTCOMES. A redelivered or replayed publish of an outcome checks this first:
 * the stream drops a repeat by Nats-Msg-Id, but core subscribers would still receive it twice.
 * (getMessage resolves null when the subject has no message.)
 */
export async function outcomeStored(js: JetStreamClient, taskId: string): Promise<boolean> {
  const jsm = await js.jetstreamManager(false); // false: no account-info request per call
  const found = await Promise.all(
    subjects.outcomes(taskId).map((subject) => jsm.streams.getMessage(OUTCOMES_STREAM.name, { last_by_subj: subject })),
  );
  return found.some((m) => m !== null && m !== undefined);
}
