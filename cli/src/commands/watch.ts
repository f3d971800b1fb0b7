import { EVENTS_STREAM, subjects } from "@baton/contracts";
import { natsError } from "../cli-error.ts";
import { openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { followTask } from "../follow-task.ts";
import { eventJson, formatEventLine } from "../render-events.ts";
import { renderTimeout } from "../render-outcome.ts";
import { type CommandContext, onInterrupt } from "./context.ts";

/** Flags of `baton watch`. */
export interface WatchFlags {
  /** Give up after this many ms (exit 124); default: wait until the task ends. */
  readonly timeoutMs?: number | undefined;
}

/**
 * `baton watch <taskId>`: prints the task's events from the beginning of their history (one
 * line each: time, type, step, agent, duration / error; `{"kind":"event",...}` with --json, then
 * `{"kind":"outcome",...}`) until it completed or failed.
 * @returns 0 completed, 1 failed, 124 timed out, 130 interrupted.
 * @throws CliError (exit 1) when NATS is unreachable.
 */
export async function watchCommand(ctx: CommandContext, taskId: string, flags: WatchFlags): Promise<ExitCode> {
  const { output } = ctx;
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
  const interrupt = onInterrupt();
  try {
    const follower = await followTask(conn, {
      taskId,
      timeoutMs: flags.timeoutMs,
      onEvent: (event) => (output.json ? output.jsonLine(eventJson(event)) : output.out(formatEventLine(event))),
    });
    const history = await conn.jsm.streams
      .getMessage(EVENTS_STREAM.name, { last_by_subj: subjects.taskEvents(taskId) })
      .catch((error: unknown) => Promise.reject(natsError(error, conn.url)));
    if (!history && !output.json) output.err(`No events for task ${taskId} yet; waiting for them (Ctrl-C to stop).`);
    const result = await Promise.race([follower.result, interrupt.signalled.then(() => undefined)]);
    if (!result) {
      await follower.stop();
      return EXIT.interrupted;
    }
    switch (result.kind) {
      case "completed":
      case "failed":
        if (output.json && result.outcome) output.jsonLine({ kind: "outcome", ...result.outcome });
        return result.kind === "completed" ? EXIT.ok : EXIT.failed;
      case "timeout":
        if (output.json) output.jsonLine({ kind: "timeout", taskId, waitedMs: result.waitedMs });
        else for (const line of renderTimeout(result.progress, result.waitedMs)) output.err(line);
        return EXIT.timeout;
      default:
        return EXIT.interrupted;
    }
  } finally {
    interrupt.dispose();
    await conn.close();
  }
}
