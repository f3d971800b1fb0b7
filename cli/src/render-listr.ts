import { Listr } from "listr2";
import { describeRow } from "./format.ts";
import type { Output } from "./output.ts";
import type { ProgressView } from "./progress-view.ts";
import { isFinal, type StepRow, type TaskProgress } from "./task-progress.ts";

/** The part of a listr2 task wrapper this view drives. */
interface TaskHandle {
  title: string | undefined;
  skip(message?: string): void;
}

interface Slot {
  handle?: TaskHandle;
  title: string;
  finalState?: "done" | "failed" | "skipped";
  message?: string;
  settle?: { resolve: () => void; reject: (error: Error) => void };
  settled: boolean;
}

const SYNTH = "\u0000answer";

/**
 * Live progress for a terminal: a listr2 task list with one task per step (spinner while
 * pending / dispatched / running; title `<step>  <agent>  <status> <duration>`, refreshed every
 * 250 ms so running steps show their elapsed time) plus a final "answer" task for synthesis.
 * Failed steps show their error; skipped steps are marked skipped. Rendered on stdout.
 */
export function listrView(output: Output): ProgressView {
  const slots = new Map<string, Slot>();
  let progressRef: TaskProgress | undefined;
  let run: Promise<unknown> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let idWidth = 6;

  const titleOf = (row: StepRow) => `${row.stepId.padEnd(idWidth)}  ${row.agent.padEnd(8)}  ${describeRow(row, Date.now(), false)}`;
  const synthTitle = (p: TaskProgress) => {
    const status =
      p.phase === "synthesizing"
        ? "writing"
        : p.phase === "completed"
          ? `done`
          : p.phase === "failed"
            ? "not needed (task failed)"
            : "waiting for the steps";
    return `${"answer".padEnd(idWidth)}  ${"synth".padEnd(8)}  ${status}`;
  };

  const settle = (slot: Slot) => {
    if (slot.settled || !slot.settle || !slot.finalState || !slot.handle) return;
    slot.settled = true;
    if (slot.finalState === "failed") slot.settle.reject(new Error(slot.message ?? slot.title));
    else {
      if (slot.finalState === "skipped") slot.handle.skip(slot.title);
      slot.settle.resolve();
    }
  };
  const setSlot = (key: string, title: string, finalState?: Slot["finalState"], message?: string) => {
    const slot = slots.get(key);
    if (!slot || slot.settled) return;
    slot.title = title;
    if (finalState) slot.finalState = finalState;
    if (message) slot.message = message;
    if (slot.handle) slot.handle.title = title;
    settle(slot);
  };
  const refreshRow = (row: StepRow) => {
    const final = isFinal(row.status) ? (row.status as Slot["finalState"]) : undefined;
    const message = row.status === "failed" ? (row.error ? `${row.error.code}: ${row.error.message}` : "failed") : undefined;
    setSlot(row.stepId, titleOf(row), final, message);
  };
  const refreshAll = () => {
    const p = progressRef;
    if (!p) return;
    for (const row of p.rows()) refreshRow(row);
    const synthFinal = p.phase === "completed" ? "done" : p.phase === "failed" ? "skipped" : undefined;
    setSlot(SYNTH, synthTitle(p), synthFinal);
  };

  return {
    start(progress: TaskProgress, goal: string) {
      progressRef = progress;
      idWidth = Math.max(6, ...progress.rows().map((r) => r.stepId.length));
      output.out(`Task ${progress.taskId}: ${goal}`);
      const keys = [...progress.rows().map((r) => r.stepId), SYNTH];
      for (const key of keys) slots.set(key, { title: "", settled: false });
      refreshAll();
      const list = new Listr(
        keys.map((key) => ({
          title: slots.get(key)?.title ?? key,
          task: (_ctx: unknown, handle: TaskHandle) =>
            new Promise<void>((resolve, reject) => {
              const slot = slots.get(key);
              if (!slot) return resolve();
              slot.handle = handle;
              slot.settle = { resolve, reject };
              handle.title = slot.title;
              settle(slot);
            }),
        })),
        {
          concurrent: true,
          exitOnError: false,
          registerSignalListeners: false,
          rendererOptions: { collapseErrors: false, collapseSkips: true, suffixSkips: false, showSkipMessage: true },
        },
      );
      run = list.run().catch(() => undefined);
      ticker = setInterval(refreshAll, 250);
    },
    event() {
      refreshAll();
    },
    outcome() {
      refreshAll();
    },
    async stop() {
      refreshAll();
      if (ticker) clearInterval(ticker);
      for (const [key, slot] of slots) {
        if (slot.settled) continue;
        setSlot(key, `${slot.title} (gave up waiting)`, "skipped");
      }
      await run;
    },
  };
}
