import type { RunState } from "./sql-errors.ts";

/** One query in flight: whether it shared the engine, and whether its own time limit stopped it. */
export class QueryRun implements RunState {
  shared = false;
  timedOut = false;
  /** The run's time limit, in ms. */
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The queries in flight on one engine. A run becomes `shared` as soon as another overlaps it, for
 * however short a time: memory and threads were then not its alone, so running out of either is
 * not proof that the query is too big by itself.
 */
export class QueryRuns {
  readonly #active = new Set<QueryRun>();

  /** Starts tracking a run with a time limit of `timeoutMs` ms; call {@link end} when it settles. */
  begin(timeoutMs: number): QueryRun {
    const run = new QueryRun(timeoutMs);
    for (const other of this.#active) other.shared = true;
    run.shared = this.#active.size > 0;
    this.#active.add(run);
    return run;
  }

  end(run: QueryRun): void {
    this.#active.delete(run);
  }

  /** Runs in flight. */
  get size(): number {
    return this.#active.size;
  }
}
