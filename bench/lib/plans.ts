import type { Plan, PlanStep } from "@baton/contracts";
import type { z } from "zod";

/** A plan as submitted (defaults not yet applied). */
export type PlanInput = z.input<typeof Plan>;

/** The task shapes every pattern scenario runs, on Baton and on the raw baseline. */
export type Shape = "chain1" | "chain3" | "fanout16";

/**
 * The zero-latency tool of the Baton runs: the code agent's `evaluate_expression` (mathjs in the
 * agent's evaluator child process, reached over IPC) on a one-operator expression.
 */
export const ZERO_TOOL = "evaluate_expression";

type StepInput = z.input<typeof PlanStep>;

function evalStep(id: string, expression: string, scope: Record<string, unknown> = {}, dependsOn: string[] = []): StepInput {
  return {
    id,
    agent: "code",
    instruction: `bench step ${id}`,
    dependsOn,
    toolCalls: [{ tool: ZERO_TOOL, args: Object.keys(scope).length > 0 ? { expression, scope } : { expression } }],
  };
}

/** `n` sequential steps, each adding one to the previous step's result (a `$fromStep` reference). */
export function chainPlan(n: number): PlanInput {
  const steps: StepInput[] = [evalStep("s1", "1 + 1")];
  for (let i = 2; i <= n; i++) {
    steps.push(evalStep(`s${i}`, "x + 1", { x: { $fromStep: `s${i - 1}`, path: "/result" } }, [`s${i - 1}`]));
  }
  return { steps };
}

/** `width` independent steps, then one step that depends on all of them and sums their results. */
export function fanoutPlan(width: number): PlanInput {
  const steps: StepInput[] = [];
  const scope: Record<string, unknown> = {};
  for (let i = 1; i <= width; i++) {
    steps.push(evalStep(`p${i}`, `${i} * 2`));
    scope[`a${i}`] = { $fromStep: `p${i}`, path: "/result" };
  }
  steps.push(
    evalStep(
      "join",
      Object.keys(scope).join(" + "),
      scope,
      steps.map((s) => s.id),
    ),
  );
  return { failurePolicy: "fail-fast", steps };
}

export function planFor(shape: Shape): PlanInput {
  if (shape === "chain1") return chainPlan(1);
  if (shape === "chain3") return chainPlan(3);
  return fanoutPlan(16);
}

/** The same shapes for the raw baseline: layers of parallel steps. */
export function layersFor(shape: Shape): number[] {
  if (shape === "chain1") return [1];
  if (shape === "chain3") return [1, 1, 1];
  return [16, 1];
}

/** `count` independent steps of the bench-only `sleep_ms` tool (agent "sleep", see bench/sleep-agent.ts). */
export function sleepPlan(count: number, ms: number): PlanInput {
  return {
    steps: Array.from({ length: count }, (_, i) => ({
      id: `z${i + 1}`,
      agent: "sleep",
      instruction: `sleep ${ms} ms`,
      dependsOn: [],
      toolCalls: [{ tool: "sleep_ms", args: { ms } }],
    })),
  };
}
