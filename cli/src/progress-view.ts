import type { TaskEvent } from "@baton/contracts";
import type { Outcome, TaskProgress } from "./task-progress.ts";

/**
 * A live view of a task's progress. `run` feeds it from {@link followTask}'s callbacks; the
 * implementations are plain lines, JSON lines (`render-lines.ts`) and a listr2 task list for
 * terminals (`render-listr.ts`). Final answers and summaries are printed by the command after
 * {@link ProgressView.stop}.
 */
export interface ProgressView {
  /** Called once the task is known (before publishing), with rows for every planned step. */
  start(progress: TaskProgress, goal: string): void;
  /** Called for each event of the task, in order, after the model applied it. */
  event(event: TaskEvent, progress: TaskProgress, changedSteps: readonly string[]): void;
  /** Called when the outcome arrived, after the model applied it. */
  outcome(outcome: Outcome, progress: TaskProgress): void;
  /** Ends live rendering; resolves once the view has drawn its last frame. */
  stop(): Promise<void>;
}
