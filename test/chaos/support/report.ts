import { OUTCOMES_STREAM } from "@baton/contracts";
import type { Kill } from "./killer.ts";
import {
  type ChaosClient,
  type EffectClaim,
  type EffectLine,
  type EventRecord,
  type Outcome,
  readDeadLetters,
  readEffectClaims,
  readEffects,
  readEvents,
} from "./observe.ts";
import type { ChaosStack } from "./processes.ts";

/** The counts every scenario prints. */
export interface ChaosCounts {
  scenario: string;
  tasks: number;
  kills: number;
  /** Deliveries of a step beyond its first (`step.started` events per step, minus one). */
  redeliveries: number;
  /** `step.retrying` events (retryable failures sent back with a nak). */
  retries: number;
  completed: number;
  failed: number;
  /** Failed tasks by the failing step's error code. */
  failedBy: Record<string, number>;
  /** Outcome messages seen on the core subscription (1 per task when all is well). */
  coreOutcomeMessages: number;
  /** Tasks whose outcome the core subscription never saw (only while the server was down). */
  coreMissed: number;
  /** Tasks with exactly one outcome stored in BATON_OUTCOMES. */
  storedOutcomes: number;
  /** Lines in EFFECTS_FILE: real executions of `record_effect`. */
  effectsRun: number;
  /** `<taskId> <stepId>` pairs whose effect ran more than once. */
  duplicateEffects: number;
  /** Tool calls reported with `replayed: true` (a redelivered step reused the recorded effect). */
  replayedEffects: number;
  /** Effect-ledger claims never completed (their owner died between claim and record). */
  inDoubtClaims: number;
  /** Messages in BATON_DLQ. */
  deadLetters: number;
  /** Service processes that exited without the test killing them. */
  crashes: number;
  seconds: number;
}

/** Everything read back after a run, for scenario-specific assertions. */
export interface ChaosReport {
  readonly counts: ChaosCounts;
  /** Broken invariants, one line each (the test asserts this list is empty). */
  readonly violations: string[];
  /** The stored outcome of each task (the first one if, wrongly, there are several). */
  readonly outcomes: Map<string, Outcome>;
  readonly events: EventRecord[];
  readonly effects: Map<string, EffectLine[]>;
  readonly claims: EffectClaim[];
  /** Tasks that failed, with the failing step and its error code. */
  readonly failures: { taskId: string; failedStep: string | undefined; code: string; message: string }[];
}

/** Options of {@link analyzeRun}. */
export interface AnalyzeOptions {
  readonly scenario: string;
  readonly client: ChaosClient;
  readonly stack: ChaosStack;
  readonly taskIds: readonly string[];
  readonly kills: readonly Kill[];
  readonly startedAt: number;
  /** Tasks still without an outcome when the wait ended. */
  readonly missing: readonly string[];
  /** True when the core subscription may have missed outcomes (published while the server was down). */
  readonly coreMayMiss?: boolean;
  /**
   * Whether a failed task is acceptable in this scenario: return the reason, or undefined when
   * the failure is a violation. Default: no failure is acceptable.
   */
  readonly allowFailure?: (failure: ChaosReport["failures"][number], report: Omit<ChaosReport, "violations" | "counts">) => string | undefined;
  /** Process exits the scenario causes on purpose (a crash pill), by service label prefix. */
  readonly expectedCrashes?: number;
}

/** The failing step's own error code (the task's error is `STEP_FAILED` wrapping it). */
export function rootErrorCode(outcome: Outcome): string {
  if (outcome.status !== "failed") return "";
  const { value } = outcome;
  const step = value.steps.find((s) => s.stepId === value.failedStep);
  return step?.error?.code ?? value.error.code;
}

/**
 * Reads back what a run left (outcomes from the core subscription and BATON_OUTCOMES, events
 * from BATON_EVENTS, EFFECTS_FILE, the effect ledger, BATON_DLQ, process exits), counts, and
 * lists every broken invariant: a task without exactly one outcome, an outcome stored twice,
 * a non-idempotent effect run twice, an unexpected failure or process crash.
 */
export async function analyzeRun(options: AnalyzeOptions): Promise<ChaosReport> {
  const { client, stack, taskIds } = options;
  const violations: string[] = [];
  const stored = await client.storedOutcomes(taskIds);
  const events = (await readEvents(client)).filter((e) => taskIds.includes(e.taskId));
  const effects = readEffects(stack.effectsFile);
  const claims = (await readEffectClaims(client)).filter((c) => taskIds.includes(c.taskId));
  const deadLetters = (await readDeadLetters(client)).filter((d) => d.taskId !== undefined && taskIds.includes(d.taskId));
  const streamInfo = await client.jsm.streams.info(OUTCOMES_STREAM.name);

  for (const taskId of options.missing) violations.push(`task ${taskId}: no outcome at all (lost or hung)`);
  const outcomes = new Map<string, Outcome>();
  let coreOutcomeMessages = 0;
  let coreMissed = 0;
  for (const taskId of taskIds) {
    const kept = stored.get(taskId) ?? [];
    const core = client.core.get(taskId) ?? [];
    coreOutcomeMessages += core.length;
    if (kept[0]) outcomes.set(taskId, kept[0]);
    if (kept.length !== 1 && !options.missing.includes(taskId)) {
      violations.push(`task ${taskId}: ${kept.length} outcomes stored in BATON_OUTCOMES (${kept.map((o) => o.status).join(", ")})`);
    }
    if (core.length > 1) {
      violations.push(
        `task ${taskId}: ${core.length} outcome messages on tasks.completed/failed (${core.map((o) => `${o.status}@${o.value.timings.finishedAt}`).join(", ")})`,
      );
    }
    if (core.length === 0 && kept.length > 0) {
      coreMissed++;
      if (!options.coreMayMiss) violations.push(`task ${taskId}: outcome stored but never seen on the core subscription`);
    }
    if (core[0] && kept[0] && core[0].status !== kept[0].status) {
      violations.push(`task ${taskId}: core subscription saw ${core[0].status}, BATON_OUTCOMES holds ${kept[0].status}`);
    }
  }
  // BATON_OUTCOMES keeps one message per subject: had an outcome been stored twice, the stream
  // would have accepted more messages (last_seq) than it holds.
  if (streamInfo.state.last_seq !== streamInfo.state.messages) {
    violations.push(
      `BATON_OUTCOMES accepted ${streamInfo.state.last_seq} messages but holds ${streamInfo.state.messages}: an outcome was stored twice`,
    );
  }
  for (const invalid of client.invalid) violations.push(`outcome message on ${invalid} does not match its schema`);

  let effectsRun = 0;
  let duplicateEffects = 0;
  for (const [key, lines] of effects) {
    if (!taskIds.includes(key.split(" ")[0] ?? "")) continue;
    effectsRun += lines.length;
    if (lines.length > 1) {
      duplicateEffects++;
      violations.push(`effect ${key} ran ${lines.length} times: ${lines.map((l) => `pid ${l.pid} at ${l.at}`).join("; ")}`);
    }
  }

  const startsPerStep = new Map<string, number>();
  for (const e of events) {
    if (e.type === "step.started") startsPerStep.set(`${e.taskId} ${e.stepId}`, (startsPerStep.get(`${e.taskId} ${e.stepId}`) ?? 0) + 1);
  }
  const redeliveries = [...startsPerStep.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
  const retries = events.filter((e) => e.type === "step.retrying").length;

  let replayedEffects = 0;
  for (const outcome of outcomes.values()) {
    for (const s of outcome.value.steps) replayedEffects += s.toolCalls.filter((c) => c.ok && c.replayed === true).length;
  }

  const failures: ChaosReport["failures"] = [];
  const failedBy: Record<string, number> = {};
  for (const [taskId, outcome] of outcomes) {
    if (outcome.status !== "failed") continue;
    const code = rootErrorCode(outcome);
    failedBy[code] = (failedBy[code] ?? 0) + 1;
    failures.push({ taskId, failedStep: outcome.value.failedStep, code, message: outcome.value.error.message });
  }
  const partial = { outcomes, events, effects, claims, failures };
  for (const failure of failures) {
    const reason = options.allowFailure?.(failure, partial);
    if (reason === undefined) {
      violations.push(`task ${failure.taskId} failed at step ${failure.failedStep ?? "?"} (${failure.code}): ${failure.message}`);
    }
  }

  const crashes = stack.services.flatMap((s) =>
    s.crashes.map((c) => {
      const gen = s.generations.find((g) => g.pid === c.pid);
      return `${s.label} pid ${c.pid} exited (${c.exit.signal ?? c.exit.code}) on its own; stderr: ${gen?.stderr.join("").slice(-1500) ?? ""}`;
    }),
  );
  if (crashes.length !== (options.expectedCrashes ?? 0)) violations.push(...crashes);

  const counts: ChaosCounts = {
    scenario: options.scenario,
    tasks: taskIds.length,
    kills: options.kills.length,
    redeliveries,
    retries,
    completed: [...outcomes.values()].filter((o) => o.status === "completed").length,
    failed: failures.length,
    failedBy,
    coreOutcomeMessages,
    coreMissed,
    storedOutcomes: [...stored.values()].filter((l) => l.length === 1).length,
    effectsRun,
    duplicateEffects,
    replayedEffects,
    inDoubtClaims: claims.filter((c) => c.state === "started").length,
    deadLetters: deadLetters.length,
    crashes: crashes.length,
    seconds: Math.round((Date.now() - options.startedAt) / 100) / 10,
  };
  return { counts, violations, ...partial };
}

/** Prints the counts as a table (vitest shows the console output). */
export function printCounts(counts: ChaosCounts, extra: Record<string, string | number> = {}): void {
  const failedBy = Object.entries(counts.failedBy)
    .map(([code, n]) => `${code}: ${n}`)
    .join(", ");
  const rows: [string, string | number][] = [
    ["tasks", counts.tasks],
    ["kills (SIGKILL)", counts.kills],
    ["redeliveries (extra step.started)", counts.redeliveries],
    ["retries (step.retrying)", counts.retries],
    ["outcomes completed", counts.completed],
    ["outcomes failed", `${counts.failed}${failedBy ? ` (${failedBy})` : ""}`],
    ["outcome messages seen (core)", counts.coreOutcomeMessages],
    ["outcomes missed by core sub", counts.coreMissed],
    ["tasks with exactly 1 stored outcome", counts.storedOutcomes],
    ["effects run (EFFECTS_FILE lines)", counts.effectsRun],
    ["duplicate effects", counts.duplicateEffects],
    ["replayed effects", counts.replayedEffects],
    ["in-doubt effect claims", counts.inDoubtClaims],
    ["dead letters (BATON_DLQ)", counts.deadLetters],
    ["unexpected process exits", counts.crashes],
    ...Object.entries(extra),
    ["duration (s)", counts.seconds],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  console.log(`\n== chaos: ${counts.scenario}\n${lines.join("\n")}\n`);
}

/**
 * Accepts a failure caused by a kill between an effect's claim and its record: the failing
 * step's error is EFFECT_IN_DOUBT (or DEAD_LETTERED, when its redeliveries — waiting for the
 * claim — were killed too), and its effect-ledger claim is still `started`, owned by a process
 * the test SIGKILLed. Not a duplicate: the effect ran at most once.
 */
export function allowEffectInDoubt(killedInstances: ReadonlySet<string>): NonNullable<AnalyzeOptions["allowFailure"]> {
  return (failure, report) => {
    if (failure.code !== "EFFECT_IN_DOUBT" && failure.code !== "DEAD_LETTERED") return undefined;
    const claim = report.claims.find((c) => c.taskId === failure.taskId && c.stepId === failure.failedStep && c.state === "started");
    if (!claim || !killedInstances.has(claim.owner)) return undefined;
    return `the effect claimed by ${claim.owner} (SIGKILLed) was never recorded`;
  };
}
