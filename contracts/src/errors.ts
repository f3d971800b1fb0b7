import { z } from "zod";

/**
 * Stable error codes carried on the bus (in `tasks.rejected`, `tasks.failed`,
 * step results and tool results). Codes never change meaning; new ones may be added.
 */
export const ErrorCode = z.enum([
  "INVALID_JSON",
  "VALIDATION_FAILED",
  "PAYLOAD_TOO_LARGE",
  "PLANNER_UNAVAILABLE",
  "UNKNOWN_AGENT",
  "UNKNOWN_TOOL",
  "INVALID_ARGUMENTS",
  "UNRESOLVED_REFERENCE",
  "TOOL_TIMEOUT",
  "TOOL_CIRCUIT_OPEN",
  "TOOL_FAILED",
  "TOOL_REFUSED",
  "TOOL_OUTPUT_TOO_LARGE",
  "LLM_UNAVAILABLE",
  "LLM_FAILED",
  "PLAN_INVALID",
  "MAX_TURNS_EXCEEDED",
  "BUDGET_EXCEEDED",
  "EFFECT_IN_DOUBT",
  "CANCELLED",
  "STEP_FAILED",
  "APPROVAL_DENIED",
  "APPROVAL_REQUIRED",
  "DEPENDENCY_FAILED",
  "TASK_TIMEOUT",
  "DEAD_LETTERED",
  "TASK_ID_CONFLICT",
  "INTERNAL",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

/** One offending field: `path` as a dotted path (`plan.steps.2.dependsOn.0`), `message` for a person. */
export const FieldIssue = z.object({
  path: z.string(),
  message: z.string(),
});
export type FieldIssue = z.infer<typeof FieldIssue>;

/** An error as it travels on the bus. `retryable` tells a consumer whether trying again may succeed. */
export const ErrorInfo = z.object({
  code: ErrorCode,
  message: z.string(),
  retryable: z.boolean().default(false),
  issues: z.array(FieldIssue).optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/** Most field issues one error carries; the rest are counted in a last issue (`(more)`). */
export const MAX_FIELD_ISSUES = 20;

/**
 * Turns zod issues into `FieldIssue`s with dotted paths, prefixed by `prefix` when given: at most
 * {@link MAX_FIELD_ISSUES}, then one issue saying how many more there were (a submission with
 * 10,000 bad keys gets an answer of a readable size).
 */
export function toFieldIssues(error: z.ZodError, prefix?: string): FieldIssue[] {
  const issues = error.issues.slice(0, MAX_FIELD_ISSUES).map((issue) => {
    const parts = issue.path.map((p) => String(p));
    if (prefix) parts.unshift(prefix);
    return { path: (parts.join(".") || "(root)").slice(0, 512), message: issue.message.slice(0, 1_000) };
  });
  const more = error.issues.length - issues.length;
  if (more > 0) issues.push({ path: "(more)", message: `and ${more} more issue${more === 1 ? "" : "s"}` });
  return issues;
}
