import { subjects, TaskEvent } from "@baton/contracts";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { publishMessage } from "./publish.ts";

/** A {@link TaskEvent} without the fields the publisher fills in. */
export type TaskEventInput = TaskEvent extends infer E ? (E extends TaskEvent ? Omit<E, "schemaVersion" | "at"> : never) : never;

/** Options of {@link publishTaskEvent}. */
export interface TaskEventOptions {
  /** A `Nats-Msg-Id`, so a re-published event (after a redelivery) is a duplicate the stream drops. */
  readonly msgId?: string;
  /** Publish as this agent's worker (`tasks.events.<taskId>.agent.<agent>`); default the control plane's subject. */
  readonly agent?: string;
}

/**
 * Publishes a lifecycle event (kept in BATON_EVENTS): on `tasks.events.<taskId>.task` from the
 * control plane, on `tasks.events.<taskId>.agent.<agent>` from an agent's worker (`options.agent`).
 * Returns once the event is written to the connection, without waiting for the stream's ack:
 * events from one process keep their order (the client writes publishes in call order), and
 * progress reporting adds no round trip to the work. A publish the stream does not ack is
 * logged, never rethrown: progress events must not fail work.
 */
export async function publishTaskEvent(
  js: JetStreamClient,
  event: TaskEventInput,
  logger: Logger,
  options: TaskEventOptions = {},
): Promise<void> {
  const { msgId, agent } = options;
  const subject = agent ? subjects.agentEvents(event.taskId, agent) : subjects.taskEvents(event.taskId);
  publishMessage(
    js,
    subject,
    TaskEvent,
    { ...event, schemaVersion: 1, at: new Date().toISOString() },
    {
      template: agent ? "tasks.events.{taskId}.agent.{agent}" : "tasks.events.{taskId}.task",
      // Typed (TaskEventInput) and validated by every reader: not parsed again on the way out.
      validate: false,
      ...(msgId ? { msgId } : {}),
    },
  ).catch((error: unknown) => logger.warn({ err: error, taskId: event.taskId, event: event.type }, "could not publish task event"));
}
