import type { TaskEvent } from "@baton/contracts";
import type { Output } from "./output.ts";
import type { ProgressView } from "./progress-view.ts";
import { eventJson, formatEventLine } from "./render-events.ts";
import type { TaskProgress } from "./task-progress.ts";

/** Plain progress for pipes and logs: a header line, then one line per event (see `formatEventLine`). */
export function linesView(output: Output): ProgressView {
  return {
    start(progress: TaskProgress, goal: string) {
      const n = progress.rows().length;
      output.out(`Task ${progress.taskId} (${n} step${n === 1 ? "" : "s"}): ${goal}`);
    },
    event(event: TaskEvent) {
      output.out(formatEventLine(event));
    },
    outcome() {},
    stop: async () => {},
  };
}

/**
 * `--json` progress: `{"kind":"submitted","taskId":...,"goal":...,"steps":[...]}` first, then each
 * event as `{"kind":"event", ...event}`; the command prints the final `{"kind":"outcome", ...}`.
 */
export function jsonView(output: Output): ProgressView {
  return {
    start(progress: TaskProgress, goal: string) {
      output.jsonLine({
        kind: "submitted",
        taskId: progress.taskId,
        goal,
        steps: progress.rows().map((r) => ({ id: r.stepId, agent: r.agent, dependsOn: r.dependsOn })),
      });
    },
    event(event: TaskEvent) {
      output.jsonLine(eventJson(event));
    },
    outcome() {},
    stop: async () => {},
  };
}
