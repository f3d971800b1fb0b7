import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dottedPath, type FieldIssue, jsonShapeProblem, TaskSubmission, toFieldIssues } from "@baton/contracts";
import { CliError } from "./cli-error.ts";
import { EXIT } from "./exit-codes.ts";

/** Inputs of {@link buildSubmission}: the command line's goal and flags plus an optional plan file. */
export interface SubmissionInput {
  /** Goal from the command line; overrides the file's goal. */
  readonly goal?: string | undefined;
  /** Path of a JSON file holding a full submission `{ goal, plan, ... }` or a bare plan `{ steps: [...] }`. */
  readonly planFile?: string | undefined;
  /** Task id (idempotency key); overrides the file's; default: the file's, else a random UUID. */
  readonly taskId?: string | undefined;
  /** The task's wall-clock limit in ms (the supervisor fails it after that); overrides the file's. */
  readonly timeoutMs?: number | undefined;
  /** Budget limits (tokens, USD); each overrides the file's. */
  readonly maxTokens?: number | undefined;
  readonly maxCostUsd?: number | undefined;
}

/** A validated submission whose `taskId` is always set, so the client knows what to follow. */
export type ResolvedSubmission = TaskSubmission & { readonly taskId: string };

/**
 * Reads the plan file (when given), merges it with the command-line values and validates the
 * result with the `TaskSubmission` schema — locally, before anything is published.
 * A file is a bare plan when it has a `steps` array and neither `plan` nor `goal`; otherwise it
 * is read as a full submission.
 * @throws CliError with exit code 2 when the file cannot be read or parsed, the goal is missing,
 *   or the submission is invalid (`details` lists each field path and problem, e.g.
 *   `plan.steps.0.dependsOn: dependency cycle: a -> b -> a`).
 */
export async function buildSubmission(input: SubmissionInput): Promise<ResolvedSubmission> {
  const fromFile = input.planFile ? await readPlanFile(input.planFile) : {};
  const raw: Record<string, unknown> = { ...fromFile };
  if (input.goal !== undefined && input.goal.trim() !== "") raw.goal = input.goal;
  raw.taskId = input.taskId ?? raw.taskId ?? randomUUID();
  if (input.timeoutMs !== undefined) raw.timeoutMs = input.timeoutMs;
  if (input.maxTokens !== undefined || input.maxCostUsd !== undefined) {
    const fileBudget = typeof raw.budget === "object" && raw.budget !== null ? raw.budget : {};
    raw.budget = {
      ...fileBudget,
      ...(input.maxTokens !== undefined ? { maxTokens: input.maxTokens } : {}),
      ...(input.maxCostUsd !== undefined ? { maxCostUsd: input.maxCostUsd } : {}),
    };
  }
  // What the supervisor checks before the schema: nesting and `__proto__` keys (schemas drop those silently).
  const shape = jsonShapeProblem(raw);
  if (shape) {
    const issue = { path: dottedPath(shape.path) || "(root)", message: shape.message };
    throw new CliError(`invalid submission${input.planFile ? ` (${input.planFile})` : ""}:`, EXIT.invalid, formatIssues([issue]), {
      cause: [issue],
    });
  }
  const parsed = TaskSubmission.safeParse(raw);
  if (!parsed.success) {
    const issues = toFieldIssues(parsed.error).map((i) =>
      i.path === "goal" && raw.goal === undefined
        ? { path: "goal", message: 'required: pass the goal as an argument, or put "goal" in the plan file' }
        : i,
    );
    throw new CliError(`invalid submission${input.planFile ? ` (${input.planFile})` : ""}:`, EXIT.invalid, formatIssues(issues), {
      cause: issues,
    });
  }
  return { ...parsed.data, taskId: parsed.data.taskId ?? String(raw.taskId) };
}

/** One line per issue: `  <path>: <message>`. */
export function formatIssues(issues: readonly FieldIssue[]): string[] {
  return issues.map((i) => `  ${i.path}: ${i.message}`);
}

/** The field issues carried by a {@link CliError} from {@link buildSubmission}, if any. */
export function issuesOf(error: CliError): FieldIssue[] {
  return Array.isArray(error.cause) ? (error.cause as FieldIssue[]) : [];
}

async function readPlanFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new CliError(`cannot read plan file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, EXIT.invalid);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new CliError(`plan file ${path} is not valid JSON: ${(error as Error).message}`, EXIT.invalid);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new CliError(`plan file ${path} must hold a JSON object: a submission {"goal", "plan"} or a plan {"steps": [...]}`, EXIT.invalid);
  }
  const obj = value as Record<string, unknown>;
  const barePlan = Array.isArray(obj.steps) && !("plan" in obj) && !("goal" in obj);
  return barePlan ? { plan: obj } : obj;
}
