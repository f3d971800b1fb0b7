import type { AgentName, ErrorInfo, Plan, StepOutcome, TaskCompleted, TaskEvent, TaskFailed, TaskState } from "@baton/contracts";

/** A step's status as the CLI shows it. `done`, `failed` and `skipped` are final. */
export type StepRowStatus = "pending" | "awaiting_approval" | "dispatched" | "running" | "done" | "failed" | "skipped";

/** Where a task is, as far as the events and outcome seen so far tell. */
export type TaskPhase = "submitted" | "accepted" | "running" | "synthesizing" | "compensating" | "completed" | "failed";

/** One step's progress row. Times are epoch ms; durations in ms. */
export interface StepRow {
  readonly stepId: string;
  agent: AgentName;
  dependsOn: readonly string[];
  status: StepRowStatus;
  /** Dispatch attempt (1 = first); 0 before the first dispatch. */
  attempt: number;
  /** Worker instance that ran (or is running) the step. */
  worker?: string;
  /** Set while a dispatched step waits for a live replica of its agent (the `step.waiting` reason). */
  waiting?: string;
  /** Set while the step waits for a person's decision: the approval's id and the gated tools. */
  approval?: { readonly approvalId: string; readonly tools: readonly string[]; readonly expiresAt: string };
  /** When the worker started it (from the `step.started` event's `at`). */
  startedAtMs?: number;
  /** Run time reported by the worker (step.completed / step.failed) or the outcome. */
  durationMs?: number;
  error?: ErrorInfo;
}

/** An outcome with its `status` (the `TaskOutcome` shape of @baton/contracts). */
export type Outcome = (TaskCompleted & { status: "completed" }) | (TaskFailed & { status: "failed" });

const FINAL: ReadonlySet<StepRowStatus> = new Set(["done", "failed", "skipped"]);

/** True for `done`, `failed` and `skipped`. */
export function isFinal(status: StepRowStatus): boolean {
  return FINAL.has(status);
}

/**
 * The per-step progress of one task, built from its lifecycle events (`tasks.events.<taskId>`)
 * and, at the end, its outcome. Pure and synchronous: no I/O, so it is shared by every renderer
 * and easy to test. Rows come from the plan when known up front, else from the `planned` event.
 * Steps the supervisor skips (no event is published for them) are inferred: a pending step is
 * skipped once one of its dependencies failed or was skipped, or once the task failed.
 */
export class TaskProgress {
  readonly taskId: string;
  phase: TaskPhase = "submitted";
  goal?: string;
  /** Epoch ms of the `accepted` event. */
  acceptedAtMs?: number;
  /** Task duration in ms from the `completed` event or the outcome. */
  durationMs?: number;
  error?: ErrorInfo;
  failedStep?: string;
  readonly #rows = new Map<string, StepRow>();
  #outcomeApplied = false;

  constructor(taskId: string, plan?: Plan) {
    this.taskId = taskId;
    if (plan) this.#setPlan(plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })));
  }

  /** The rows in plan order (empty until the plan is known). */
  rows(): readonly StepRow[] {
    return [...this.#rows.values()];
  }

  /** The row of `stepId`, if the plan is known and has that step. */
  row(stepId: string): StepRow | undefined {
    return this.#rows.get(stepId);
  }

  /** Rows that are not final yet (what a timeout message lists as still running). */
  unfinished(): StepRow[] {
    return this.rows().filter((r) => !isFinal(r.status));
  }

  /** True once the task completed or failed. */
  get finished(): boolean {
    return this.phase === "completed" || this.phase === "failed";
  }

  /**
   * Applies one event. Events for another task, and step events after the outcome, are ignored.
   * A final row only moves again when a newer attempt is dispatched.
   * @returns the ids of the rows that changed (possibly inferred skips).
   */
  apply(event: TaskEvent): string[] {
    if (event.taskId !== this.taskId) return [];
    // The outcome is the task's record: a step event arriving after it (e.g. a step that was still
    // running when a fail-fast failure ended the task, recorded as skipped) does not change rows.
    if (this.#outcomeApplied && event.type.startsWith("step.")) return [];
    const changed: string[] = [];
    switch (event.type) {
      case "accepted":
        this.goal = event.goal;
        this.acceptedAtMs = Date.parse(event.at);
        if (this.phase === "submitted") this.phase = "accepted";
        break;
      case "planned":
        this.#setPlan(event.steps);
        changed.push(...event.steps.map((s) => s.id));
        if (this.phase === "submitted" || this.phase === "accepted") this.phase = "running";
        break;
      case "step.dispatched": {
        const row = this.#rowFor(event.stepId, event.agent);
        // A newer attempt restarts the row; the same attempt only moves it forward (the worker's
        // `step.started` may be stored before the supervisor's `step.dispatched`).
        if (event.attempt > row.attempt || row.status === "pending" || row.status === "awaiting_approval") {
          delete row.approval;
          row.status = "dispatched";
          row.attempt = event.attempt;
          delete row.startedAtMs;
          delete row.durationMs;
          delete row.error;
          changed.push(row.stepId);
        }
        this.#running();
        break;
      }
      case "step.waiting": {
        const row = this.#rowFor(event.stepId, event.agent);
        if (row.status === "pending" || row.status === "dispatched") {
          row.waiting = event.reason;
          changed.push(row.stepId);
        }
        break;
      }
      case "step.awaiting_approval": {
        const row = this.#rowFor(event.stepId, event.agent);
        if (!isFinal(row.status)) {
          row.status = "awaiting_approval";
          row.approval = { approvalId: event.approvalId, tools: [...new Set(event.calls.map((c) => c.tool))], expiresAt: event.expiresAt };
          changed.push(row.stepId);
        }
        break;
      }
      case "step.approval_decided": {
        const row = this.#rowFor(event.stepId, event.agent);
        if (row.status === "awaiting_approval" && row.approval?.approvalId === event.approvalId) {
          delete row.approval;
          // An approved step is dispatched next (its `step.dispatched` follows); a denied one fails.
          row.status = "pending";
          changed.push(row.stepId);
        }
        break;
      }
      case "step.started": {
        const row = this.#rowFor(event.stepId, event.agent);
        if (event.attempt > row.attempt || row.status === "pending" || row.status === "dispatched") {
          delete row.waiting;
          row.status = "running";
          row.attempt = Math.max(row.attempt, event.attempt);
          row.worker = event.worker;
          row.startedAtMs = Date.parse(event.at);
          changed.push(row.stepId);
        }
        this.#running();
        break;
      }
      case "step.completed": {
        const row = this.#rowFor(event.stepId, event.agent);
        row.status = "done";
        row.durationMs = event.durationMs;
        delete row.error;
        changed.push(row.stepId);
        break;
      }
      case "step.failed": {
        const row = this.#rowFor(event.stepId, event.agent);
        row.status = "failed";
        row.durationMs = event.durationMs;
        row.error = event.error;
        changed.push(row.stepId);
        break;
      }
      case "synthesizing":
        if (!this.finished) this.phase = "synthesizing";
        break;
      case "completed":
        this.phase = "completed";
        this.durationMs = event.durationMs;
        break;
      case "failed":
        this.phase = "failed";
        this.error = event.error;
        if (event.failedStep) this.failedStep = event.failedStep;
        break;
    }
    changed.push(...this.#inferSkips());
    return [...new Set(changed)];
  }

  /**
   * Applies the task's outcome: final status and duration of every step (`steps[]`), the task
   * duration (`timings.durationMs`), and for a failure its error and failing step.
   * @returns the ids of the rows that changed.
   */
  applyOutcome(outcome: Outcome): string[] {
    if (outcome.taskId !== this.taskId) return [];
    this.#outcomeApplied = true;
    this.goal = outcome.goal;
    this.phase = outcome.status;
    this.durationMs = outcome.timings.durationMs;
    if (outcome.status === "failed") {
      this.error = outcome.error;
      if (outcome.failedStep) this.failedStep = outcome.failedStep;
    }
    const changed: string[] = [];
    for (const step of outcome.steps) {
      const row = this.#rowFor(step.stepId, step.agent);
      this.#fromStepOutcome(row, step);
      changed.push(row.stepId);
    }
    changed.push(...this.#inferSkips());
    return [...new Set(changed)];
  }

  /** Loads a stored task state (KV `baton_tasks`): plan, phase and each step's status. */
  applyState(state: TaskState): void {
    this.goal = state.goal;
    this.acceptedAtMs = Date.parse(state.acceptedAt);
    this.phase = state.status === "running" ? "running" : state.status;
    if (state.error) this.error = state.error;
    if (state.failedStep) this.failedStep = state.failedStep;
    this.#setPlan(state.plan.steps.map((s) => ({ id: s.id, agent: s.agent, dependsOn: s.dependsOn })));
    for (const [stepId, s] of Object.entries(state.steps)) {
      const row = this.#rows.get(stepId);
      if (!row) continue;
      row.attempt = s.attempt;
      if (s.outcome) this.#fromStepOutcome(row, s.outcome);
      else row.status = s.status === "completed" ? "done" : s.status;
    }
  }

  #fromStepOutcome(row: StepRow, step: StepOutcome): void {
    row.status = step.status === "completed" ? "done" : step.status;
    row.attempt = step.attempt;
    if (step.durationMs !== undefined) row.durationMs = step.durationMs;
    if (step.worker) row.worker = step.worker;
    if (step.startedAt) row.startedAtMs = Date.parse(step.startedAt);
    if (step.error) row.error = step.error;
  }

  #setPlan(steps: readonly { id: string; agent: AgentName; dependsOn: readonly string[] }[]): void {
    for (const s of steps) {
      const row = this.#rows.get(s.id);
      if (row) {
        row.agent = s.agent;
        row.dependsOn = s.dependsOn;
      } else {
        this.#rows.set(s.id, { stepId: s.id, agent: s.agent, dependsOn: s.dependsOn, status: "pending", attempt: 0 });
      }
    }
  }

  #rowFor(stepId: string, agent: AgentName): StepRow {
    let row = this.#rows.get(stepId);
    if (!row) {
      row = { stepId, agent, dependsOn: [], status: "pending", attempt: 0 };
      this.#rows.set(stepId, row);
    }
    return row;
  }

  #running(): void {
    if (this.phase === "submitted" || this.phase === "accepted") this.phase = "running";
  }

  /** Marks pending rows skipped when a dependency failed or was skipped, or the task failed. */
  #inferSkips(): string[] {
    const changed: string[] = [];
    for (let again = true; again; ) {
      again = false;
      for (const row of this.#rows.values()) {
        if (row.status !== "pending") continue;
        const blocked = row.dependsOn.some((d) => {
          const dep = this.#rows.get(d)?.status;
          return dep === "failed" || dep === "skipped";
        });
        if (blocked || this.phase === "failed") {
          row.status = "skipped";
          changed.push(row.stepId);
          again = true;
        }
      }
    }
    return changed;
  }
}
