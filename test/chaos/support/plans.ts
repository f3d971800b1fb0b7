/** Plan builders for the chaos scenarios: every step goes to the effect agent (`agent: "chaos"`). */

type ToolCall = { tool: string; args: Record<string, unknown> };

export interface PlanStep {
  readonly id: string;
  readonly agent: "chaos";
  readonly instruction: string;
  readonly toolCalls: ToolCall[];
  readonly dependsOn: string[];
}

export interface ChaosPlan {
  readonly failurePolicy: "fail-fast" | "continue";
  readonly steps: PlanStep[];
}

/** A uniformly random integer in [min, max]. */
export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

export function step(id: string, toolCalls: ToolCall[], dependsOn: string[] = []): PlanStep {
  return { id, agent: "chaos", instruction: `chaos step ${id}`, toolCalls, dependsOn };
}

export const sleepCall = (ms: number): ToolCall => ({ tool: "sleep_ms", args: { ms } });
export const effectCall = (label: string): ToolCall => ({ tool: "record_effect", args: { label } });

/** The ids of the steps of {@link workloadPlan} that run `record_effect`. */
export const WORKLOAD_EFFECT_STEPS = ["charge", "notify"] as const;

/**
 * The chaos workload: a diamond of four steps with two side effects.
 * - `prepare`: sleep 200–800 ms;
 * - `charge`: `record_effect`, then sleep 200–800 ms (a kill during the sleep redelivers a step
 *   whose effect already ran: the ledger must replay it, not run it again);
 * - `notify`: `record_effect` alone (parallel to `charge`);
 * - `finish`: sleep 200–800 ms after both.
 */
export function workloadPlan(): ChaosPlan {
  return {
    failurePolicy: "fail-fast",
    steps: [
      step("prepare", [sleepCall(randomInt(200, 800))]),
      step("charge", [effectCall("charge"), sleepCall(randomInt(200, 800))], ["prepare"]),
      step("notify", [effectCall("notify")], ["prepare"]),
      step("finish", [sleepCall(randomInt(200, 800))], ["charge", "notify"]),
    ],
  };
}

/** A submission of `plan` under `taskId`. */
export function submission(taskId: string, plan: ChaosPlan, goal = `chaos task ${taskId}`) {
  return { taskId, goal, plan };
}

/** Tasks in the stream of scenario (a) — `CHAOS_TASKS`, default 40 (CI size); the others scale from it. */
export function chaosTasks(): number {
  const n = Number(process.env.CHAOS_TASKS ?? "");
  return Number.isInteger(n) && n > 0 ? n : 40;
}

/**
 * nats-server restarts of scenario (f) — `CHAOS_NATS_RESTARTS`, default 8 (CI size: about 25 s of
 * restarts); the full run uses 50.
 */
export function chaosNatsRestarts(): number {
  const n = Number(process.env.CHAOS_NATS_RESTARTS ?? "");
  return Number.isInteger(n) && n > 0 ? n : 8;
}
