import type { TaskRejected, TaskState } from "@baton/contracts";
import { describeRow, formatDuration, oneLine, statusSymbol } from "./format.ts";
import { formatIssues } from "./submission.ts";
import { type Outcome, type StepRow, TaskProgress } from "./task-progress.ts";

/**
 * The per-step status table, one line per step:
 * `  ✔ fetch        research  done 812 ms`. Plan order; durations in ms/s.
 */
export function renderStepTable(rows: readonly StepRow[], nowMs = Date.now()): string[] {
  const idWidth = Math.max(4, ...rows.map((r) => r.stepId.length));
  return rows.map((r) => `  ${statusSymbol(r.status)} ${r.stepId.padEnd(idWidth)}  ${r.agent.padEnd(8)}  ${describeRow(r, nowMs)}`);
}

/**
 * The final timing summary line, from the outcome's `timings.durationMs` and `steps[].durationMs`:
 * `Timing: total 2.41 s · fetch 812 ms · calc 25 ms · report skipped`.
 */
export function renderTimingSummary(outcome: Outcome): string {
  const steps = outcome.steps.map((s) =>
    s.status === "skipped"
      ? `${s.stepId} skipped`
      : `${s.stepId} ${formatDuration(s.durationMs)}${s.status === "failed" ? " (failed)" : ""}`,
  );
  return `Timing: total ${formatDuration(outcome.timings.durationMs)}${steps.length ? ` · ${steps.join(" · ")}` : ""}`;
}

/**
 * What to print for a failed task: the error, the failing step with its own error, and every
 * step's status. `rows` default to the outcome's steps.
 */
export function renderFailure(outcome: Outcome & { status: "failed" }, rows?: readonly StepRow[]): string[] {
  const progress = rows ? undefined : new TaskProgress(outcome.taskId);
  progress?.applyOutcome(outcome);
  const table = rows ?? progress?.rows() ?? [];
  const lines = [`Task ${outcome.taskId} failed: ${outcome.error.code}: ${outcome.error.message}`];
  if (outcome.failedStep) {
    const step = outcome.steps.find((s) => s.stepId === outcome.failedStep);
    const cause = step?.error ? `: ${step.error.code}: ${oneLine(step.error.message, 300)}` : "";
    lines.push(`Failing step: ${outcome.failedStep}${step ? ` (${step.agent} agent)` : ""}${cause}`);
  }
  lines.push("Steps:", ...renderStepTable(table));
  return lines;
}

/** What to print for a rejected submission: code, message and one line per offending field. */
export function renderRejection(rejection: TaskRejected): string[] {
  return [`Submission rejected (${rejection.error.code}): ${rejection.error.message}`, ...formatIssues(rejection.error.issues ?? [])];
}

/** What to print when `run`/`watch` gave up: how long it waited and what was still unfinished. */
export function renderTimeout(progress: TaskProgress, waitedMs: number, nowMs = Date.now()): string[] {
  const head = `Timed out after ${formatDuration(waitedMs)} waiting for task ${progress.taskId}`;
  if (progress.phase === "submitted") {
    return [`${head}: no event arrived for it — the supervisor has not accepted it (is the stack running? is the taskId right?).`];
  }
  const open = progress.unfinished();
  const what =
    progress.phase === "synthesizing"
      ? "the synthesizer was still writing the answer"
      : open.length
        ? `still unfinished: ${open.map((r) => `${r.stepId} (${r.agent}, ${describeRow(r, nowMs)})`).join(", ")}`
        : `task phase: ${progress.phase}`;
  return [
    `${head}: ${what}.`,
    `The task keeps running; follow it with \`baton watch ${progress.taskId}\` or fetch it later with \`baton result ${progress.taskId}\`.`,
  ];
}

/** What `baton result` prints for a task that has state in KV but no outcome yet. */
export function renderTaskState(state: TaskState): string[] {
  const progress = new TaskProgress(state.taskId);
  progress.applyState(state);
  return [
    `Task ${state.taskId} has no outcome yet: status ${state.status} (accepted ${state.acceptedAt}, deadline ${state.deadlineAt})`,
    "Steps:",
    ...renderStepTable(progress.rows()),
  ];
}
