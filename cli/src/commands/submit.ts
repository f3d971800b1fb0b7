import { openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { publishSubmission } from "../publish-submission.ts";
import { buildSubmission } from "../submission.ts";
import type { CommandContext } from "./context.ts";

/** Flags of `baton submit`. */
export interface SubmitFlags {
  readonly plan?: string | undefined;
  readonly taskId?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

/**
 * `baton submit [goal] [--plan file] [--task-id id] [--timeout-ms n]`: validates the submission
 * locally, publishes it on `tasks.submit` (msgId `submit-<taskId>`) and prints the taskId
 * (`{"taskId","seq","duplicate"}` with --json). Does not wait for the task.
 * @returns 0 once the stream acked.
 * @throws CliError: exit 2 for an invalid submission (field errors listed), exit 1 when NATS is unreachable.
 */
export async function submitCommand(ctx: CommandContext, goal: string | undefined, flags: SubmitFlags): Promise<ExitCode> {
  const submission = await buildSubmission({ goal, planFile: flags.plan, taskId: flags.taskId, timeoutMs: flags.timeoutMs });
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
  try {
    const published = await publishSubmission(conn, submission);
    if (ctx.output.json) ctx.output.jsonLine({ taskId: published.taskId, seq: published.seq, duplicate: published.duplicate });
    else {
      ctx.output.out(published.taskId);
      if (published.duplicate) {
        ctx.output.err(
          `note: a submission with taskId ${published.taskId} was already published in the last 2 minutes; the task runs once`,
        );
      }
    }
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
