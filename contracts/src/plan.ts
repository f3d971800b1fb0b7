import { z } from "zod";
import { AgentName, ToolName } from "./agents.ts";
import { cleanText, jsonPathOf, jsonShapeProblem, MAX_JSON_DEPTH, MAX_TOOL_ARGS_BYTES, walkJson } from "./limits.ts";

/**
 * How deep a tool call's `args` may nest: a submission's tool arguments sit 6 levels below its
 * root (submission → plan → steps → step → toolCalls → call → args), and the submission as a
 * whole may nest MAX_JSON_DEPTH (64) levels.
 */
export const ARGS_MAX_DEPTH = MAX_JSON_DEPTH - 6;
import { PlanApproval } from "./approvals.ts";
import { StepId } from "./ids.ts";

/**
 * A reference to an earlier step's output, usable anywhere inside a tool call's `args`:
 * `{ "$fromStep": "monthly", "path": "/rows/0/avg_temp" }`. `path` is a JSON Pointer
 * (RFC 6901) into that step's output; omitted or `""` means the whole output.
 * The referenced step must be an ancestor of the referencing step in the DAG.
 */
export const StepRef = z.strictObject({
  $fromStep: StepId,
  path: z
    .string()
    .regex(/^(\/.*)?$/, "must be a JSON Pointer: empty or starting with '/'")
    .default(""),
});
export type StepRef = z.infer<typeof StepRef>;

/** One tool call a step makes: a tool name from its agent's tool set and its JSON arguments. */
export const ToolCallSpec = z.strictObject({
  tool: ToolName,
  /** At most MAX_TOOL_ARGS_BYTES (256 KiB) as JSON, nested at most ARGS_MAX_DEPTH (58) deep, no `__proto__` key. */
  args: z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((args, ctx) => {
      const problem = jsonShapeProblem(args, ARGS_MAX_DEPTH);
      if (problem) {
        ctx.addIssue({ code: "custom", path: problem.path, message: problem.message });
        return;
      }
      const bytes = Buffer.byteLength(JSON.stringify(args));
      if (bytes > MAX_TOOL_ARGS_BYTES) {
        ctx.addIssue({ code: "custom", message: `${bytes} bytes as JSON; at most ${MAX_TOOL_ARGS_BYTES}` });
      }
    }),
});
export type ToolCallSpec = z.infer<typeof ToolCallSpec>;

/**
 * How a step is retried after a retryable failure (timeouts, connection loss, 429/5xx,
 * transient tool failures): the work message is `nak`ed with exponential backoff and full
 * jitter, up to `maxAttempts` deliveries in all (bounded by the consumer's max_deliver).
 * Defaults: the worker's STEP_MAX_ATTEMPTS, STEP_RETRY_INITIAL_MS, STEP_RETRY_MAX_MS.
 */
export const RetryPolicy = z.strictObject({
  maxAttempts: z.number().int().min(1).max(10).optional(),
  initialDelayMs: z.number().int().min(0).max(60_000).optional(),
  maxDelayMs: z.number().int().min(0).max(600_000).optional(),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

/**
 * One step of a plan: run by the worker agent `agent`. With `toolCalls`, the worker runs
 * them in order and the step's output is the last call's output; without them, the step
 * needs an LLM worker (not configured in this release → rejected at submission).
 */
export const PlanStep = z.strictObject({
  id: StepId,
  agent: AgentName,
  instruction: cleanText().trim().min(1).max(4_000),
  toolCalls: z.array(ToolCallSpec).max(16).default([]),
  dependsOn: z.array(StepId).max(64).default([]),
  /** Wall-clock limit for the whole step in ms; default: the worker's STEP_TIMEOUT_MS. */
  timeoutMs: z.number().int().positive().max(3_600_000).optional(),
  retry: RetryPolicy.optional(),
  /**
   * Saga compensation: the tool call that undoes this step's effect, run (by the same agent) when
   * the task fails after this step completed — compensations run one at a time, in reverse order
   * of completion. Its `args` may reference this step's own output with `$fromStep`.
   */
  compensation: ToolCallSpec.optional(),
});
export type PlanStep = z.infer<typeof PlanStep>;

/** What happens to a task when a step fails: stop at once, or finish the other steps first. */
export const FailurePolicy = z.enum(["fail-fast", "continue"]);
export type FailurePolicy = z.infer<typeof FailurePolicy>;

const PlanShape = z.strictObject({
  steps: z.array(PlanStep).min(1).max(64),
  failurePolicy: FailurePolicy.default("fail-fast"),
  /** Further approval gates for this task (a plan can add gates, never lift the operator's). */
  approval: PlanApproval.optional(),
});

/**
 * A plan: a DAG of steps. Rejected (with the offending field paths) when step ids repeat,
 * a `dependsOn` names an unknown step or the step itself, the dependencies form a cycle,
 * or a `$fromStep` reference names a step that is not an ancestor.
 */
export const Plan = PlanShape.superRefine((plan, ctx) => {
  // Arguments nested too deep are reported by their own check; the reference walk skips them.
  const tooDeep = plan.steps.some((s) =>
    [...s.toolCalls, ...(s.compensation ? [s.compensation] : [])].some((c) => jsonShapeProblem(c.args, ARGS_MAX_DEPTH)),
  );
  if (tooDeep) return;
  for (const issue of validateDag(plan.steps)) ctx.addIssue({ code: "custom", ...issue });
});
export type Plan = z.infer<typeof Plan>;

/** A tool call of an accepted plan: its arguments were checked when the plan was (see {@link AcceptedPlan}). */
const AcceptedToolCall = z.strictObject({ tool: ToolName, args: z.record(z.string(), z.unknown()).default({}) });

/**
 * A plan as the supervisor accepted it, stored in task state and carried in synthesis requests:
 * the shape of a {@link Plan} without its checks (argument sizes and shapes, the DAG, references),
 * which ran once, at submission — a task's state is read at every step, and re-running them each
 * time costs as much as the step.
 */
export const AcceptedPlan = PlanShape.extend({
  steps: z
    .array(PlanStep.extend({ toolCalls: z.array(AcceptedToolCall).max(16).default([]), compensation: AcceptedToolCall.optional() }))
    .min(1)
    .max(64),
});

type DagIssue = { path: (string | number)[]; message: string };

function validateDag(steps: readonly PlanStep[]): DagIssue[] {
  const issues: DagIssue[] = [];
  const index = new Map<string, number>();
  steps.forEach((step, i) => {
    if (index.has(step.id)) {
      issues.push({ path: ["steps", i, "id"], message: `duplicate step id "${step.id}"` });
    } else index.set(step.id, i);
  });
  steps.forEach((step, i) => {
    step.dependsOn.forEach((dep, j) => {
      if (dep === step.id) issues.push({ path: ["steps", i, "dependsOn", j], message: `step "${step.id}" depends on itself` });
      else if (!index.has(dep)) issues.push({ path: ["steps", i, "dependsOn", j], message: `unknown step "${dep}"` });
    });
  });
  if (issues.length > 0) return issues;
  const cycle = findCycle(steps);
  if (cycle) {
    const first = index.get(cycle[0] ?? "") ?? 0;
    issues.push({ path: ["steps", first, "dependsOn"], message: `dependency cycle: ${cycle.join(" -> ")}` });
    return issues;
  }
  const ancestors = ancestorSets(steps);
  steps.forEach((step, i) => {
    for (const [where, call] of [
      ...step.toolCalls.map((c, j) => [["toolCalls", j], c] as const),
      ...(step.compensation ? [[["compensation"], step.compensation] as const] : []),
    ]) {
      for (const { problem, path } of walkStepRefs(call.args)) {
        if (problem) issues.push({ path: ["steps", i, ...where, "args", ...path], message: `not a valid $fromStep reference: ${problem}` });
      }
    }
    if (step.compensation) {
      for (const { ref, path } of collectStepRefs(step.compensation.args)) {
        if (ref.$fromStep !== step.id && !ancestors.get(step.id)?.has(ref.$fromStep)) {
          issues.push({
            path: ["steps", i, "compensation", "args", ...path],
            message: `"$fromStep": "${ref.$fromStep}" is neither step "${step.id}" nor one of its dependencies`,
          });
        }
      }
    }
    step.toolCalls.forEach((call, j) => {
      for (const { ref, path } of collectStepRefs(call.args)) {
        if (!ancestors.get(step.id)?.has(ref.$fromStep)) {
          issues.push({
            path: ["steps", i, "toolCalls", j, "args", ...path],
            message: `"$fromStep": "${ref.$fromStep}" is not a dependency (direct or indirect) of step "${step.id}"`,
          });
        }
      }
    });
  });
  return issues;
}

/** Returns one dependency cycle as step ids (first id repeated at the end), or undefined. */
function findCycle(steps: readonly PlanStep[]): string[] | undefined {
  const deps = new Map(steps.map((s) => [s.id, s.dependsOn]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === "done") return undefined;
    if (state.get(id) === "visiting") return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, "visiting");
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const step of steps) {
    const found = visit(step.id);
    if (found) return found;
  }
  return undefined;
}

/** Map from step id to the ids of all its ancestors (transitive dependencies). Assumes a DAG. */
export function ancestorSets(steps: readonly PlanStep[]): Map<string, Set<string>> {
  const deps = new Map(steps.map((s) => [s.id, s.dependsOn]));
  const memo = new Map<string, Set<string>>();
  const of = (id: string): Set<string> => {
    const known = memo.get(id);
    if (known) return known;
    const set = new Set<string>();
    memo.set(id, set);
    for (const dep of deps.get(id) ?? []) {
      set.add(dep);
      for (const a of of(dep)) set.add(a);
    }
    return set;
  };
  for (const s of steps) of(s.id);
  return memo;
}

/** Every `$fromStep` reference inside `value`, with the path (keys and indexes) where it sits. */
export function collectStepRefs(value: unknown, path: (string | number)[] = []): { ref: StepRef; path: (string | number)[] }[] {
  return walkStepRefs(value, path).flatMap((found) => (found.ref ? [{ ref: found.ref, path: found.path }] : []));
}

/**
 * Every object with a `$fromStep` key inside `value`, with its path, parsed as a {@link StepRef}
 * (`ref`) or why it is not one (`problem`). Iterative, allocating a path only per reference.
 */
export function walkStepRefs(
  value: unknown,
  path: (string | number)[] = [],
): { ref?: StepRef; problem?: string; path: (string | number)[] }[] {
  const found: { ref?: StepRef; problem?: string; path: (string | number)[] }[] = [];
  walkJson(value, (node) => {
    const v = node.value;
    if (v === null || typeof v !== "object" || Array.isArray(v) || !Object.hasOwn(v, "$fromStep")) return undefined;
    const parsed = StepRef.safeParse(v);
    const at = [...path, ...jsonPathOf(node)];
    found.push(
      parsed.success
        ? { ref: parsed.data, path: at }
        : { problem: parsed.error.issues.map((i) => `${i.path.join(".") || "(reference)"}: ${i.message}`).join("; "), path: at },
    );
    return "skip";
  });
  return found;
}

/** Thrown by {@link resolveStepRefs} when a reference's step has no output or its pointer matches nothing. */
export class UnresolvedReferenceError extends Error {
  override readonly name = "UnresolvedReferenceError";
  readonly code = "UNRESOLVED_REFERENCE" as const;
  readonly retryable = false;
}

/**
 * Replaces every `$fromStep` reference in `value` with the referenced part of that step's output.
 * @param outputs step id → output of that step.
 * @throws UnresolvedReferenceError when a step has no output or the JSON Pointer matches nothing.
 */
export function resolveStepRefs(value: unknown, outputs: Readonly<Record<string, unknown>>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveStepRefs(v, outputs));
  if (value !== null && typeof value === "object") {
    if ("$fromStep" in value) {
      const ref = StepRef.parse(value);
      if (!(ref.$fromStep in outputs)) throw new UnresolvedReferenceError(`step "${ref.$fromStep}" has no output`);
      return jsonPointerGet(outputs[ref.$fromStep], ref.path, ref.$fromStep);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveStepRefs(v, outputs)]));
  }
  return value;
}

/** RFC 6901 JSON Pointer lookup. @throws UnresolvedReferenceError when a token matches nothing. */
export function jsonPointerGet(doc: unknown, pointer: string, label = "value"): unknown {
  if (pointer === "") return doc;
  let current: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (current !== null && typeof current === "object" && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      throw new UnresolvedReferenceError(`${label}: JSON Pointer "${pointer}" does not match (at "${token}")`);
    }
  }
  return current;
}
