import { CliError } from "../cli-error.ts";
import { extraAgents } from "../extra-agents.ts";
import { type CliConnection, openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { followTask, type FollowResult } from "../follow-task.ts";
import { formatDuration } from "../format.ts";
import type { Output } from "../output.ts";
import type { ProgressView } from "../progress-view.ts";
import { listrView } from "../render-listr.ts";
import { jsonView, linesView } from "../render-lines.ts";
import { renderFailure, renderRejection, renderStepTable, renderTimeout, renderTimingSummary } from "../render-outcome.ts";
import { publishSubmission } from "../publish-submission.ts";
import { type Stack, StackError, startStack } from "../stack.ts";
import { buildSubmission } from "../submission.ts";
import { type CommandContext, onInterrupt } from "./context.ts";

/** Flags of `baton run`. */
export interface RunFlags {
  readonly plan?: string | undefined;
  readonly maxTokens?: number | undefined;
  readonly maxCostUsd?: number | undefined;
  readonly taskId?: string | undefined;
  /** How long to wait for the outcome, in ms; default 120,000. */
  readonly timeoutMs?: number | undefined;
  /** Start a private local stack first and stop it afterwards. */
  readonly up?: boolean | undefined;
  /** With `up`: folders of further agents to start (`--agent`). */
  readonly agent?: readonly string[] | undefined;
  /** With `up`: MCP agent config files (`--mcp`). */
  readonly mcp?: readonly string[] | undefined;
}

/**
 * `baton run [--plan <file>] [goal]`: without a plan the supervisor's LLM planner decomposes the
 * goal (needs an LLM configured on the services). Validates the submission locally, subscribes to the task's
 * events, outcome and `tasks.rejected`, publishes it, shows live per-step progress (listr2 on a
 * terminal; one line per event otherwise; JSON lines with --json), then prints the answer
 * Markdown, or the error, failing step and per-step status, and a timing summary line.
 * With `up`, a private nats-server and the services (plus `--agent` / `--mcp` agents) are started
 * first and stopped after.
 * @returns 0 completed, 1 failed, 2 rejected by the supervisor, 124 timed out, 130 interrupted.
 * @throws CliError: exit 2 for an invalid submission, exit 1 when NATS or the stack is unavailable.
 */
export async function runCommand(ctx: CommandContext, goal: string | undefined, flags: RunFlags): Promise<ExitCode> {
  const { output } = ctx;
  const submission = await buildSubmission({
    goal,
    planFile: flags.plan,
    taskId: flags.taskId,
    maxTokens: flags.maxTokens,
    maxCostUsd: flags.maxCostUsd,
  });
  if ((flags.agent?.length || flags.mcp?.length) && !flags.up) throw new CliError("--agent and --mcp need --up", EXIT.invalid);
  const agents = flags.up ? extraAgents(flags) : [];
  const interrupt = onInterrupt();
  let stack: Stack | undefined;
  let conn: CliConnection | undefined;
  try {
    let natsUrl = ctx.natsUrl;
    let creds = ctx.credsFor("client");
    if (flags.up) {
      const started = Date.now();
      if (!output.json) output.err("Starting the local stack (private nats-server + services)…");
      const starting = startStack({ agents });
      const first = await Promise.race([starting, interrupt.signalled.then(() => undefined)]);
      if (!first) {
        await starting.then((s) => s.stop()).catch(() => undefined);
        return EXIT.interrupted;
      }
      stack = first;
      natsUrl = stack.natsUrl;
      creds = stack.clientCreds;
      if (!output.json) output.err(`Stack up in ${formatDuration(Date.now() - started)}: NATS at ${natsUrl}`);
    }
    conn = await openConnection(natsUrl, creds);
    const view = pickView(output);
    const timeoutMs = flags.timeoutMs ?? 120_000;
    const follower = await followTask(conn, {
      taskId: submission.taskId,
      plan: submission.plan,
      timeoutMs,
      watchRejections: true,
      onEvent: (event, progress, changed) => view.event(event, progress, changed),
      onOutcome: (outcome, progress) => view.outcome(outcome, progress),
    });
    view.start(follower.progress, submission.goal);
    const published = await publishSubmission(conn, submission).catch(async (error: unknown) => {
      await follower.stop();
      await view.stop();
      throw error;
    });
    if (published.duplicate && !output.json) {
      output.err(`note: taskId ${published.taskId} was submitted before; showing that task (a taskId runs once)`);
    }
    const result = await Promise.race([follower.result, interrupt.signalled.then(() => undefined)]);
    await view.stop();
    if (!result) {
      await follower.stop();
      if (!output.json) output.err(`Interrupted; task ${submission.taskId} keeps running (baton watch ${submission.taskId}).`);
      return EXIT.interrupted;
    }
    return printResult(output, result);
  } catch (error) {
    if (error instanceof StackError) throw new CliError(error.message, EXIT.failed, [], { cause: error });
    throw error;
  } finally {
    interrupt.dispose();
    await conn?.close();
    if (stack) {
      if (!output.json) output.err("Stopping the local stack…");
      await stack.stop();
    }
  }
}

function pickView(output: Output): ProgressView {
  if (output.json) return jsonView(output);
  return output.interactive ? listrView(output) : linesView(output);
}

/** Prints how the task ended and returns the exit code. */
function printResult(output: Output, result: FollowResult): ExitCode {
  const { progress } = result;
  switch (result.kind) {
    case "completed": {
      const outcome = result.outcome;
      if (output.json) {
        output.jsonLine(outcome ? { kind: "outcome", ...outcome } : { kind: "outcome", status: "completed", taskId: progress.taskId });
        return EXIT.ok;
      }
      output.out("");
      if (outcome) {
        output.stdout.write(outcome.answer.endsWith("\n") ? outcome.answer : `${outcome.answer}\n`);
        output.out("");
        output.out(renderTimingSummary(outcome));
      } else output.out(`Task ${progress.taskId} completed, but its outcome is not in BATON_OUTCOMES.`);
      return EXIT.ok;
    }
    case "failed": {
      const outcome = result.outcome;
      if (output.json) {
        output.jsonLine(
          outcome ? { kind: "outcome", ...outcome } : { kind: "outcome", status: "failed", taskId: progress.taskId, error: progress.error },
        );
        return EXIT.failed;
      }
      output.out("");
      if (outcome) {
        for (const line of renderFailure(outcome, progress.rows())) output.out(line);
        output.out(renderTimingSummary(outcome));
      } else {
        output.out(
          `Task ${progress.taskId} failed: ${progress.error ? `${progress.error.code}: ${progress.error.message}` : "unknown error"}`,
        );
        if (progress.failedStep) output.out(`Failing step: ${progress.failedStep}`);
        for (const line of ["Steps:", ...renderStepTable(progress.rows())]) output.out(line);
      }
      return EXIT.failed;
    }
    case "rejected":
      if (output.json) output.jsonLine({ kind: "rejected", ...result.rejection });
      else for (const line of renderRejection(result.rejection)) output.err(line);
      return EXIT.invalid;
    case "timeout":
      if (output.json) {
        output.jsonLine({
          kind: "timeout",
          taskId: progress.taskId,
          waitedMs: result.waitedMs,
          phase: progress.phase,
          unfinished: progress.unfinished().map((r) => ({ stepId: r.stepId, agent: r.agent, status: r.status })),
        });
      } else for (const line of renderTimeout(progress, result.waitedMs)) output.err(line);
      return EXIT.timeout;
    case "stopped":
      return EXIT.interrupted;
  }
}
