import { subjects, TaskSubmission } from "@baton/contracts";
import { publishMessage } from "@baton/core";
import { natsError } from "./cli-error.ts";
import type { CliConnection } from "./connection.ts";
import type { ResolvedSubmission } from "./submission.ts";

/** What {@link publishSubmission} returns. */
export interface Published {
  readonly taskId: string;
  /** Stream sequence of the submission in BATON_SUBMISSIONS. */
  readonly seq: number;
  /** True when the stream dropped it as a repeat of `submit-<taskId>` within the duplicate window (2 min). */
  readonly duplicate: boolean;
}

/**
 * Publishes a validated submission on `tasks.submit` through JetStream with the de-duplication
 * id `submit-<taskId>` and waits for the stream's ack.
 * @throws CliError (exit 1) when NATS or the BATON_SUBMISSIONS stream does not answer.
 */
export async function publishSubmission(conn: CliConnection, submission: ResolvedSubmission): Promise<Published> {
  try {
    const ack = await publishMessage(conn.js, subjects.submit, TaskSubmission, submission, {
      msgId: `submit-${submission.taskId}`,
      template: subjects.submit,
    });
    return { taskId: submission.taskId, seq: ack.seq, duplicate: ack.duplicate };
  } catch (error) {
    throw natsError(error, conn.url);
  }
}
