import { subjects, TaskEvent } from "@baton/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { publishMessage } from "./publish.ts";

/** A {@link TaskEvent} without the fields the publisher fills in. */
export type TaskEventInput = TaskEvent extends infer E ? (E extends TaskEvent ? Omit<E, "schemaVersion" | "at"> : never) : never;

/**
 * Publishes lifecycle events on `tasks.events.<taskId>` (kept in BATON_EVENTS).
 * `msgId` makes a re-published event (after a redelivery) a duplicate the stream drops.
 * Event publishing failures are logged and not rethrown: progress events must not fail work.
 */
export async function publishTaskEvent(js: JetStreamClient, event: TaskEventInput, logger: Logger, msgId?: string): Promise<void> {
  try {
    await publishMessage(
      js,
      subjects.events(event.taskId),
      TaskEvent,
      { ...event, schemaVersion: 1, at: new Date().toISOString() } as TaskEvent,
      { template: "tasks.events.{taskId}", ...(msgId ? { msgId } : {}) },
    );
  } catch (error) {
    logger.warn({ err: error, taskId: event.taskId, event: event.type }, "could not publish task event");
  }
}
