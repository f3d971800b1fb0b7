/**
 * The Restate peer's services and what they exchange, shared by the services (run as child
 * processes) and the bench's driver. The task shapes are those of bench/lib/plans.ts: a chain of
 * `steps` steps, each adding one to the previous step's result, and a fan-out of `width` steps
 * (step i computes i + i) joined by one step that sums their results.
 */

/** Service names as registered in Restate (the ingress path is `/<service>/<handler>`). */
export const RESTATE_SERVICES = {
  /** The worker (shape `restate-services`): one handler, `step`, in its own Node process. */
  worker: "BenchWorker",
  /** The orchestrator (shape `restate-services`): `chain` and `fanout`, each step a call to the worker. */
  orchestrator: "BenchOrchestrator",
  /** Shape `restate-journal`: `chain` and `fanout`, each step a journaled `ctx.run` in the handler itself. */
  journal: "BenchJournal",
} as const;

/** One step's work: the numbers to add — a one-operator expression; a later step's terms include earlier results. */
export interface StepInput {
  readonly terms: readonly number[];
}

export interface StepOutput {
  readonly result: number;
}

/** Input of the `chain` handlers. */
export interface ChainInput {
  readonly steps: number;
}

/** Input of the `fanout` handlers. */
export interface FanoutInput {
  readonly width: number;
}

/** The zero-latency tool: plain JavaScript addition (no mathjs), like the raw baseline's worker. */
export function runStep(input: StepInput): StepOutput {
  let result = 0;
  for (const t of input.terms) result += t;
  return { result };
}

/** How a handler runs one step (a call to the worker service, or a journaled `ctx.run`). */
export type StepRunner = (name: string, input: StepInput) => Promise<StepOutput>;

/** Waits for steps started together (Restate's `RestatePromise.all`). */
export type AllOf = (steps: Promise<StepOutput>[]) => Promise<StepOutput[]>;

/** `steps` steps in sequence; step i's input references step i − 1's output. */
export async function chain(run: StepRunner, input: ChainInput): Promise<StepOutput> {
  let last = await run("s1", { terms: [1, 1] });
  for (let i = 2; i <= input.steps; i++) last = await run(`s${i}`, { terms: [last.result, 1] });
  return last;
}

/** `width` steps started together and awaited together, then one step that sums their results. */
export async function fanout(run: StepRunner, all: AllOf, input: FanoutInput): Promise<StepOutput> {
  const parallel = await all(Array.from({ length: input.width }, (_, i) => run(`p${i + 1}`, { terms: [i + 1, i + 1] })));
  return run("join", { terms: parallel.map((p) => p.result) });
}

/** The result a correct run returns (the driver checks every response). */
export function expectedResult(handler: "chain" | "fanout", size: number): number {
  return handler === "chain" ? size + 1 : size * (size + 1);
}
