import { subjects, TaskCancel, TaskId } from "@baton/contracts";
import { publishMessage } from "@baton/core";
import { CliError } from "../cli-error.ts";
import { openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import type { CommandContext } from "./context.ts";

/**
 * `baton cancel <taskId> [--reason text]`: publishes a {@link TaskCancel} on `tasks.cancel`. The
 * supervisor fails the task with `CANCELLED` and aborts its in-flight steps; a finished task is
 * left as it is. Does not wait: follow with `baton watch` or `baton result`.
 * @returns 0 once the stream acked.
 * @throws CliError: exit 2 for an invalid taskId, exit 1 when NATS is unreachable.
 */
export async function cancelCommand(ctx: CommandContext, taskId: string, flags: { reason?: string | undefined }): Promise<ExitCode> {
  const id = TaskId.safeParse(taskId);
  if (!id.success) throw new CliError(`invalid taskId "${taskId}": ${id.error.issues[0]?.message ?? "invalid"}`, EXIT.invalid);
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
  try {
    await publishMessage(conn.js, subjects.cancel, TaskCancel, {
      schemaVersion: 1,
      taskId: id.data,
      ...(flags.reason ? { reason: flags.reason } : {}),
    });
    if (ctx.output.json) ctx.output.jsonLine({ taskId: id.data, cancelRequested: true });
    else ctx.output.out(`cancellation of ${id.data} requested`);
    return EXIT.ok;
  } finally {
    await conn.close();
  }
}
