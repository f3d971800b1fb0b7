import {
  EVENTS_STREAM,
  isTrustedEvent,
  OUTCOMES_STREAM,
  type Plan,
  subjects,
  TaskCompleted,
  TaskEvent,
  TaskFailed,
  TaskRejected,
  TERMINAL_EVENT_TYPES,
} from "@baton/contracts";
import { decodeJson } from "@baton/core";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/transport-node";
import { natsError } from "./cli-error.ts";
import type { CliConnection } from "./connection.ts";
import { type Outcome, TaskProgress } from "./task-progress.ts";

/** Options of {@link followTask}. */
export interface FollowTaskOptions {
  readonly taskId: string;
  /** The plan when the caller knows it (so every step has a row before any event arrives). */
  readonly plan?: Plan | undefined;
  /** Give up after this many ms (result `timeout`); 0 or undefined: wait forever. */
  readonly timeoutMs?: number | undefined;
  /** Also watch `tasks.rejected` for a rejection carrying this taskId (result `rejected`). */
  readonly watchRejections?: boolean | undefined;
  /** Once the outcome or the terminal event is in, how long to wait for the other; default 1,000 ms. */
  readonly settleMs?: number | undefined;
  /** Called for every event of the task, in stream order, after the progress model applied it. */
  readonly onEvent?: ((event: TaskEvent, progress: TaskProgress, changedSteps: readonly string[]) => void) | undefined;
  /** Called once when the outcome arrives, after the progress model applied it. */
  readonly onOutcome?: ((outcome: Outcome, progress: TaskProgress) => void) | undefined;
}

/**
 * How following a task ended. `completed` / `failed` carry the outcome from BATON_OUTCOMES
 * (absent only if the terminal event arrived but the outcome could not be found) and the
 * terminal event when it was seen.
 */
export type FollowResult =
  | { readonly kind: "completed"; readonly outcome?: Outcome & { status: "completed" }; readonly progress: TaskProgress }
  | { readonly kind: "failed"; readonly outcome?: Outcome & { status: "failed" }; readonly progress: TaskProgress }
  | { readonly kind: "rejected"; readonly rejection: TaskRejected; readonly progress: TaskProgress }
  | { readonly kind: "timeout"; readonly waitedMs: number; readonly progress: TaskProgress }
  | { readonly kind: "stopped"; readonly progress: TaskProgress };

/** A task being followed; see {@link followTask}. */
export interface TaskFollower {
  readonly progress: TaskProgress;
  /** Settles once with how following ended; never rejects. */
  readonly result: Promise<FollowResult>;
  /** Stops following (result `stopped` if not settled yet) and releases the subscriptions. */
  stop(): Promise<void>;
}

/**
 * Follows one task: its lifecycle events from the beginning of their history in BATON_EVENTS
 * (an ordered consumer filtered on `tasks.events.<taskId>`: replays what is stored, then follows
 * live), its outcome (core subscriptions on `tasks.completed.<taskId>` and
 * `tasks.failed.<taskId>`, plus a look-up of the last stored outcome in BATON_OUTCOMES in case it
 * was published before), and optionally `tasks.rejected`. The returned promise resolves only
 * once every subscription is active, so a caller may publish the submission afterwards without
 * missing anything. Works against nats-server 2.9 (single `filter_subject`).
 * @throws CliError (exit 1) when NATS or the Baton streams are not there.
 */
export async function followTask(conn: CliConnection, options: FollowTaskOptions): Promise<TaskFollower> {
  const { taskId } = options;
  const progress = new TaskProgress(taskId, options.plan);
  const settleMs = options.settleMs ?? 1_000;
  const startedAt = Date.now();
  const subs: Subscription[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let messages: ConsumerMessages | undefined;
  let outcome: Outcome | undefined;
  let terminalSeen = false;
  let settleTimer: NodeJS.Timeout | undefined;
  let done = false;
  let resolveResult!: (result: FollowResult) => void;
  const result = new Promise<FollowResult>((resolve) => (resolveResult = resolve));

  const release = async () => {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of subs) s.unsubscribe();
    if (messages) {
      const m = messages;
      messages = undefined;
      await m.close().catch(() => undefined);
    }
  };
  const finish = (r: FollowResult) => {
    if (done) return;
    done = true;
    resolveResult(r);
    void release();
  };
  const fromOutcome = (): FollowResult =>
    outcome?.status === "completed"
      ? { kind: "completed", outcome, progress }
      : outcome?.status === "failed"
        ? { kind: "failed", outcome, progress }
        : progress.phase === "completed"
          ? { kind: "completed", progress }
          : { kind: "failed", progress };
  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
    return t;
  };
  const maybeFinish = () => {
    if (done) return;
    if (outcome && terminalSeen) return finish(fromOutcome());
    if ((outcome || terminalSeen) && !settleTimer) {
      settleTimer = later(settleMs, () => {
        if (outcome) return finish(fromOutcome());
        void lastOutcome(conn, taskId).then((found) => {
          if (found && !outcome) acceptOutcome(found);
          finish(fromOutcome());
        });
      });
    }
  };
  const acceptOutcome = (o: Outcome) => {
    if (outcome || done) return;
    outcome = o;
    progress.applyOutcome(o);
    options.onOutcome?.(o, progress);
    maybeFinish();
  };

  try {
    // 1. Events: the ordered consumer exists (and captures everything) from here on.
    const consumer = await conn.js.consumers.get(EVENTS_STREAM.name, { filter_subjects: subjects.eventsOf(taskId) });
    // 2. Outcomes and rejections published from now on.
    const [completedSubject, failedSubject] = subjects.outcomes(taskId);
    subs.push(
      conn.nc.subscribe(completedSubject, {
        callback: (_err, msg) => {
          const d = decodeJson(msg.data, TaskCompleted);
          if (d.ok) acceptOutcome({ ...d.value, status: "completed" });
        },
      }),
      conn.nc.subscribe(failedSubject, {
        callback: (_err, msg) => {
          const d = decodeJson(msg.data, TaskFailed);
          if (d.ok) acceptOutcome({ ...d.value, status: "failed" });
        },
      }),
    );
    if (options.watchRejections) {
      subs.push(
        conn.nc.subscribe(subjects.rejected, {
          callback: (_err, msg) => {
            const d = decodeJson(msg.data, TaskRejected);
            if (d.ok && d.value.taskId === taskId) finish({ kind: "rejected", rejection: d.value, progress });
          },
        }),
      );
    }
    await conn.nc.flush();
    messages = await consumer.consume();
    // 3. An outcome stored before we subscribed (watching or re-running a finished task).
    const stored = await lastOutcome(conn, taskId);
    if (stored) acceptOutcome(stored);
  } catch (error) {
    await release();
    throw natsError(error, conn.url);
  }

  const iterator = messages;
  void (async () => {
    try {
      for await (const m of iterator) {
        const d = decodeJson(m.data, TaskEvent);
        // Only events from the role that may speak for them (an agent about its own steps).
        if (!d.ok || !isTrustedEvent(m.subject, d.value)) continue;
        const changed = progress.apply(d.value);
        options.onEvent?.(d.value, progress, changed);
        if (TERMINAL_EVENT_TYPES.includes(d.value.type)) {
          terminalSeen = true;
          maybeFinish();
        }
      }
    } catch {
      // The iterator ends with an error when the connection closes under it; stop() handles that.
    }
  })();

  if (options.timeoutMs && options.timeoutMs > 0) {
    later(options.timeoutMs, () => finish({ kind: "timeout", waitedMs: Date.now() - startedAt, progress }));
  }

  return {
    progress,
    result,
    async stop() {
      finish({ kind: "stopped", progress });
      await release();
    },
  };
}

/**
 * The task's stored outcome: the last message on `tasks.completed.<taskId>` or
 * `tasks.failed.<taskId>` in BATON_OUTCOMES (the later one if, oddly, both exist), or undefined.
 * @throws the client's error when the stream is missing or NATS does not answer.
 */
export async function lastOutcome(conn: CliConnection, taskId: string): Promise<Outcome | undefined> {
  const [completedSubject, failedSubject] = subjects.outcomes(taskId);
  const [completed, failed] = await Promise.all([
    conn.jsm.streams.getMessage(OUTCOMES_STREAM.name, { last_by_subj: completedSubject }),
    conn.jsm.streams.getMessage(OUTCOMES_STREAM.name, { last_by_subj: failedSubject }),
  ]);
  const c = completed ? decodeJson(completed.data, TaskCompleted) : undefined;
  const f = failed ? decodeJson(failed.data, TaskFailed) : undefined;
  const okC = c?.ok ? ({ ...c.value, status: "completed" } as const) : undefined;
  const okF = f?.ok ? ({ ...f.value, status: "failed" } as const) : undefined;
  if (okC && okF) return (completed?.seq ?? 0) > (failed?.seq ?? 0) ? okC : okF;
  return okC ?? okF;
}
