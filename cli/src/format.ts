import { styleText } from "node:util";
import type { StepRow, StepRowStatus } from "./task-progress.ts";

/**
 * A duration for people: `812 ms` below 1 s, `2.41 s` below 1 min, `3 m 05 s` above.
 * Negative or non-finite input gives `—`.
 */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(2)} s`;
  const totalSeconds = Math.round(ms / 1_000);
  return `${Math.floor(totalSeconds / 60)} m ${String(totalSeconds % 60).padStart(2, "0")} s`;
}

/** Local wall-clock time `HH:MM:SS.mmm` of an ISO timestamp (the input unchanged if unparsable). */
export function formatClock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const SYMBOLS: Record<StepRowStatus, string> = {
  pending: "·",
  awaiting_approval: "⏸",
  dispatched: "→",
  running: "▶",
  done: "✔",
  failed: "✖",
  skipped: "↷",
};

/** A one-character status mark: `·` pending, `⏸` awaiting approval, `→` dispatched, `▶` running, `✔` done, `✖` failed, `↷` skipped. */
export function statusSymbol(status: StepRowStatus): string {
  return SYMBOLS[status];
}

/** `text` coloured for `stream` when it is a TTY and NO_COLOR is unset; plain otherwise. */
export function paint(format: Parameters<typeof styleText>[0], text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return styleText(format, text, { stream });
}

/**
 * A step's status with its time: `done 812 ms`, `failed 12 ms: TOOL_REFUSED: ...`,
 * `running 1.20 s` (elapsed since the worker started it, measured at `nowMs`), `pending`.
 */
export function describeRow(row: StepRow, nowMs = Date.now(), withError = true): string {
  switch (row.status) {
    case "done":
      return `done ${formatDuration(row.durationMs)}`;
    case "failed":
      return `failed ${formatDuration(row.durationMs)}${withError && row.error ? `: ${row.error.code}: ${row.error.message}` : ""}`;
    case "running":
      return row.startedAtMs === undefined ? "running" : `running ${formatDuration(Math.max(0, nowMs - row.startedAtMs))}`;
    case "awaiting_approval":
      return row.approval
        ? `awaiting approval ${row.approval.approvalId} (${row.approval.tools.join(", ")}): baton approvals show ${row.approval.approvalId}`
        : "awaiting approval";
    case "dispatched":
      if (row.waiting) return `waiting: no live replica of agent ${row.agent}`;
      return row.attempt > 1 ? `dispatched (attempt ${row.attempt})` : "dispatched";
    default:
      return row.status;
  }
}

/** Truncates `text` to `max` characters with an ellipsis, on one line. */
export function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
