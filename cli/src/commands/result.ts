import { KV_BUCKETS, TaskState } from "@baton/contracts";
import { Kvm } from "@nats-io/kv";
import { natsError } from "../cli-error.ts";
import { type CliConnection, openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { lastOutcome } from "../follow-task.ts";
import { renderFailure, renderTaskState, renderTimingSummary } from "../render-outcome.ts";
import type { CommandContext } from "./context.ts";

/**
 * `baton result <taskId>`: prints the task's outcome from BATON_OUTCOMES — the answer Markdown on
 * stdout (timing summary on stderr) when completed; the error, the failing step and each step's
 * status when failed; `{"kind":"outcome","status",...}` with --json. Without an outcome it shows
 * the task's state from KV `baton_tasks` if there is one.
 * @returns 0 completed, 1 failed, 3 no outcome (unknown task, or still running).
 * @throws CliError (exit 1) when NATS is unreachable.
 */
export async function resultCommand(ctx: CommandContext, taskId: string): Promise<ExitCode> {
  const { output } = ctx;
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
  try {
    const outcome = await lastOutcome(conn, taskId).catch((error: unknown) => Promise.reject(natsError(error, conn.url)));
    if (outcome) {
      if (output.json) output.jsonLine({ kind: "outcome", ...outcome });
      else if (outcome.status === "completed") {
        output.stdout.write(outcome.answer.endsWith("\n") ? outcome.answer : `${outcome.answer}\n`);
        output.err(renderTimingSummary(outcome));
      } else {
        for (const line of renderFailure(outcome)) output.out(line);
        output.out(renderTimingSummary(outcome));
      }
      return outcome.status === "completed" ? EXIT.ok : EXIT.failed;
    }
    const state = await readTaskState(conn, taskId);
    if (output.json) output.jsonLine({ kind: "not_found", taskId, ...(state ? { state } : {}) });
    else if (state) for (const line of renderTaskState(state)) output.out(line);
    else
      output.err(
        `No task ${taskId}: no outcome in BATON_OUTCOMES and no state in KV ${KV_BUCKETS.tasks.name} (outcomes are kept 30 days).`,
      );
    return EXIT.notFound;
  } finally {
    await conn.close();
  }
}

/** The task's state in KV `baton_tasks`, or undefined when absent, deleted or unreadable. */
async function readTaskState(conn: CliConnection, taskId: string): Promise<TaskState | undefined> {
  try {
    const kv = await new Kvm(conn.nc).open(KV_BUCKETS.tasks.name);
    const entry = await kv.get(taskId);
    if (!entry || entry.operation !== "PUT") return undefined;
    const parsed = TaskState.safeParse(entry.json());
    return parsed.success ? parsed.data : undefined;
  } catch (error) {
    if (/stream not found|bucket not found/i.test(String(error))) return undefined;
    throw natsError(error, conn.url);
  }
}
