import {
  dottedPath,
  type ErrorInfo,
  isCleanText,
  jsonShapeProblem,
  MAX_JSON_DEPTH,
  MAX_JSON_VALUES,
  TaskSubmission,
  toFieldIssues,
} from "@baton/contracts";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** What {@link validateSubmission} found: the submission, or the rejection. */
export type ValidatedSubmission =
  | { readonly ok: true; readonly submission: TaskSubmission; readonly claimedId: string | null }
  | { readonly ok: false; readonly error: ErrorInfo; readonly claimedId: string | null };

/**
 * Checks a submission's bytes against everything that needs no bus: size, UTF-8 JSON, nesting
 * depth, number of values and `__proto__` keys in one pass (before anything recursive touches the
 * value: `JSON.parse` takes any depth, but `JSON.stringify`, `structuredClone` and recursive code
 * overflow the stack; schemas drop `__proto__` keys silently), then the schema
 * (ids, reserved names, limits, the plan's DAG). Never throws: an exception while validating is
 * a `VALIDATION_FAILED` rejection, never something to retry.
 * @param maxBytes MAX_SUBMISSION_BYTES.
 */
export function validateSubmission(data: Uint8Array, maxBytes: number): ValidatedSubmission {
  if (data.byteLength > maxBytes) {
    return rejected(null, {
      code: "PAYLOAD_TOO_LARGE",
      message: `submission is ${data.byteLength} bytes; the limit is ${maxBytes} (MAX_SUBMISSION_BYTES)`,
      retryable: false,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(data));
  } catch (error) {
    return rejected(null, {
      code: "INVALID_JSON",
      message: `submission is not valid UTF-8 JSON: ${(error as Error).message}`,
      retryable: false,
    });
  }
  const claimedId = claimedTaskId(raw);
  try {
    const shape = jsonShapeProblem(raw, MAX_JSON_DEPTH, MAX_JSON_VALUES);
    if (shape) {
      const path = dottedPath(shape.path) || "(root)";
      return rejected(claimedId, {
        code: "VALIDATION_FAILED",
        message: `invalid submission: ${path}: ${shape.message}`,
        retryable: false,
        issues: [{ path, message: shape.message }],
      });
    }
    const parsed = TaskSubmission.safeParse(raw);
    if (!parsed.success) {
      const issues = toFieldIssues(parsed.error);
      return rejected(claimedId, {
        code: "VALIDATION_FAILED",
        message: `invalid submission: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
        retryable: false,
        issues,
      });
    }
    return { ok: true, submission: parsed.data, claimedId };
  } catch (error) {
    return rejected(claimedId, {
      code: "VALIDATION_FAILED",
      message: `the submission could not be validated: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
      retryable: false,
    });
  }
}

/** The taskId a submission claims, when it is a string a rejection can echo (at most 256 clean characters). */
function claimedTaskId(raw: unknown): string | null {
  if (raw === null || typeof raw !== "object" || !Object.hasOwn(raw, "taskId")) return null;
  const id = (raw as { taskId?: unknown }).taskId;
  return typeof id === "string" && id.length <= 256 && isCleanText(id) ? id : null;
}

function rejected(claimedId: string | null, error: ErrorInfo): ValidatedSubmission {
  return { ok: false, error, claimedId };
}
