import { argsHash, type ErrorInfo, type StepWork } from "@baton/contracts";

/**
 * Checks a step's explicit tool calls against its work's approval gates: every call of a gated
 * tool needs an `approve` decision for exactly its arguments (same tool and `argsHash`). The
 * supervisor publishes work only once that holds; this check keeps a worker from running a gated
 * call on work that says otherwise.
 * @returns `APPROVAL_REQUIRED` (not retryable) naming the first call without approval, or undefined.
 */
export function checkExplicitApprovals(work: StepWork): ErrorInfo | undefined {
  const approval = work.approval;
  if (!approval) return undefined;
  const gated = new Set(approval.gated);
  for (const [i, call] of work.toolCalls.entries()) {
    if (!gated.has(call.tool)) continue;
    const hash = argsHash(call.args);
    const approved = approval.decisions.some((d) => d.tool === call.tool && d.argsHash === hash && d.decision === "approve");
    if (!approved) {
      return {
        code: "APPROVAL_REQUIRED",
        message: `tool call ${i + 1} (${call.tool}) needs a person's approval for exactly these arguments, and the work carries none`,
        retryable: false,
        issues: [{ path: `toolCalls.${i}`, message: "no approval for this call" }],
      };
    }
  }
  return undefined;
}
