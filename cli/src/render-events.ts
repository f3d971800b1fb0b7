import type { TaskEvent } from "@baton/contracts";
import { formatClock, formatDuration, oneLine } from "./format.ts";

/**
 * One line per lifecycle event: time, type, step, agent, then duration or error, e.g.
 * `12:00:01.900  step.completed   fetch      research  612 ms`.
 */
export function formatEventLine(event: TaskEvent): string {
  const head = `${formatClock(event.at)}  ${event.type.padEnd(16)}`;
  const step = (id: string, agent: string) => `${id.padEnd(16)} ${agent.padEnd(9)}`;
  switch (event.type) {
    case "accepted":
      return `${head} task ${event.taskId}: ${oneLine(event.goal, 100)}`;
    case "resubmitted":
      return `${head} the same submission again: the task is ${event.status} (accepted ${formatClock(event.acceptedAt)})`;
    case "planned":
      return `${head} ${event.steps.length} step${event.steps.length === 1 ? "" : "s"} (${event.source}): ${event.steps
        .map((s) => `${s.id}[${s.agent}]${s.dependsOn.length ? `<-${s.dependsOn.join(",")}` : ""}`)
        .join(" ")}`;
    case "step.dispatched":
      return `${head} ${step(event.stepId, event.agent)} attempt ${event.attempt}`;
    case "step.waiting":
      return `${head} ${step(event.stepId, event.agent)} ${oneLine(event.reason)}`;
    case "step.awaiting_approval":
      return `${head} ${step(event.stepId, event.agent)} approval ${event.approvalId}: ${oneLine(event.reason)}; expires ${formatClock(event.expiresAt)} (baton approvals show ${event.approvalId})`;
    case "step.approval_decided":
      return `${head} ${step(event.stepId, event.agent)} ${event.decision === "approve" ? "approved" : "denied"} by ${event.approver}${
        event.comment ? `: ${oneLine(event.comment)}` : ""
      }`;
    case "step.started":
      return `${head} ${step(event.stepId, event.agent)} on ${event.worker}`;
    case "step.completed":
      return `${head} ${step(event.stepId, event.agent)} ${formatDuration(event.durationMs)}`;
    case "step.retrying":
      return `${head} ${step(event.stepId, event.agent)} delivery ${event.delivery} failed, retry in ${formatDuration(event.delayMs)}  ${event.error.code}: ${oneLine(event.error.message)}`;
    case "step.failed":
      return `${head} ${step(event.stepId, event.agent)} ${formatDuration(event.durationMs)}  ${event.error.code}: ${oneLine(event.error.message)}`;
    case "synthesizing":
      return `${head} writing the answer`;
    case "compensating":
      return `${head} undoing completed steps: ${event.steps.join(", ")}`;
    case "completed":
      return `${head} total ${formatDuration(event.durationMs)}`;
    case "failed":
      return `${head} ${event.error.code}: ${oneLine(event.error.message)}${event.failedStep ? ` (step ${event.failedStep})` : ""}`;
  }
}

/** The JSON line for an event in `--json` mode: the event itself tagged `kind: "event"`. */
export function eventJson(event: TaskEvent): Record<string, unknown> {
  return { kind: "event", ...event };
}
