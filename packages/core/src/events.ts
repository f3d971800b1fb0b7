import { subjects, TaskEvent } from "@baton/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { publishMessage } from "./publish.ts";

/** A {@link TaskEvent} without the fields the publisher fills in. */
export type TaskEventInput = TaskEvent extends infer E ? (E extends TaskEvent ? Omit<E, "schemaVersion" | "at"> : never) : never;

/**
 * Publishes lifecycle events on `tasks.events.<taskId>` (kept in BATON_EVENTS).
 * `msgId` makes a re-published event (after a redelivery) a duplicate the stream drops.
 * Returns once the event is written to the connection, without waiting for the stream's ack:
 * events from one process keep their order (the client writes publishes in call order), and
 * progress reporting adds no round trip to the work. A publish the stream does not ack is
 * logged, never rethrown: progress events must not fail work.
 */
export async function publishTaskEvent(js: JetStreamClient, event: TaskEventInput, logger: Logger, msgId?: string): Promise<void> {
  publishMessage(js, subjects.events(event.taskId), TaskEvent, { ...event, schemaVersion: 1, at: new Date().toISOString() } as TaskEvent, {
    template: "tasks.events.{taskId}",
    ...(msgId ? { msgId } : {}),
  }).catch((error: unknown) => logger.warn({ err: error, taskId: event.taskId, event: event.type }, "could not publish task event"));
}
