import { OUTCOMES_STREAM, subjects } from "@baton/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import { connectionOf, retryWhileUnavailable } from "./nats.ts";

/**
 * True when the task's outcome (`tasks.completed.<taskId>` or `tasks.failed.<taskId>`) is already
 * stored in BATON_OUTCOMES. A redelivered or replayed publish of an outcome checks this first:
 * the stream drops a repeat by Nats-Msg-Id, but core subscribers would still receive it twice.
 * (getMessage resolves null when the subject has no message.) Retried for up to `retryForMs`
 * (default 10,000 ms) while the broker is unavailable.
 * @throws TransientError when it stays unavailable; the client's other errors.
 */
export async function outcomeStored(js: JetStreamClient, taskId: string, retryForMs = 10_000): Promise<boolean> {
  const jsm = await js.jetstreamManager(false); // false: no account-info request per call
  const found = await retryWhileUnavailable(
    () => Promise.all(subjects.outcomes(taskId).map((subject) => jsm.streams.getMessage(OUTCOMES_STREAM.name, { last_by_subj: subject }))),
    { what: `look up the outcome of ${taskId}`, forMs: retryForMs, nc: connectionOf(js) },
  );
  return found.some((m) => m !== null && m !== undefined);
}
