import type { ErrorCode, ErrorInfo, ToolCallResult } from "@baton/contracts";
import type { ToolCallBlock, ToolResultBlock } from "@baton/llm";
import {
  type EffectLedger,
  type ExecuteOptions,
  executeToolCall,
  type ToolBreakers,
  type ToolContext,
  type ToolRegistry,
} from "@baton/tools";
import type { LoopApprovalDecision } from "./checkpoint.ts";
import { serializeForModel } from "./serialize.ts";
import { fenceUntrusted } from "./spotlight.ts";
import { truncateMiddle } from "./truncate.ts";

/** What one turn's tool calls produced: results for the step report, blocks for the model, both in the calls' order. */
export interface Observations {
  readonly results: ToolCallResult[];
  readonly blocks: ToolResultBlock[];
}

/** Options of {@link runToolCalls}. */
export interface RunToolCallsOptions {
  /** Passed to `executeToolCall`: largest JSON output in bytes (its default 262,144 when undefined). */
  readonly maxOutputBytes?: number | undefined;
  /** Each observation's data is cut to this many characters (head and tail kept) before fencing. */
  readonly maxResultChars: number;
  /** Record tool arguments on the tool spans (LOG_PAYLOADS); default false. */
  readonly recordArgs?: boolean | undefined;
  /** The effect ledger for non-idempotent tools (at most once per task, step, tool and arguments). */
  readonly effects?: EffectLedger | undefined;
  /** The process's per-tool circuit breakers. */
  readonly breakers?: ToolBreakers | undefined;
  /** Called as each call that ran ends (e.g. to audit it); see `ExecuteOptions.onCall`. */
  readonly onCall?: ExecuteOptions["onCall"] | undefined;
  /** Nonce source for the fences (tests). */
  readonly newNonce?: () => string;
  /** Calls a person denied: not run; each gets a denial result (see {@link deniedResult}). */
  readonly denials?: ReadonlyMap<ToolCallBlock, LoopApprovalDecision>;
}

/**
 * Runs one turn's tool calls concurrently through `executeToolCall` and turns each result into a
 * `tool_result` block echoing the call's id. Never throws: unknown tools and invalid arguments
 * come back as `isError` blocks with the executor's error (field issues included); a call whose
 * arguments were not JSON (`parseError`) is not run and gets an `INVALID_ARGUMENTS` result with
 * `durationMs` 0.
 */
export async function runToolCalls(
  calls: readonly ToolCallBlock[],
  registry: ToolRegistry,
  ctx: ToolContext,
  options: RunToolCallsOptions,
): Promise<Observations> {
  const results = await Promise.all(
    calls.map((call): Promise<ToolCallResult> => {
      const denial = options.denials?.get(call);
      if (denial) return Promise.resolve(deniedResult(call, denial));
      if (call.parseError !== undefined) {
        return Promise.resolve({
          tool: call.name,
          args: call.arguments,
          ok: false as const,
          error: {
            code: "INVALID_ARGUMENTS" as const,
            message: `the arguments of ${call.name} were not valid JSON (${call.parseError}); the call was not run`,
            retryable: false,
          },
          durationMs: 0,
        });
      }
      return executeToolCall(registry, { tool: call.name, args: call.arguments }, ctx, {
        maxOutputBytes: options.maxOutputBytes,
        recordArgs: options.recordArgs ?? false,
        ...(options.effects ? { effects: options.effects } : {}),
        ...(options.breakers ? { breakers: options.breakers } : {}),
        ...(options.onCall ? { onCall: options.onCall } : {}),
      });
    }),
  );
  const blocks = calls.map((call, index) => {
    const result = results[index] as ToolCallResult;
    const denial = options.denials?.get(call);
    return denial ? deniedBlock(call, denial, options) : toResultBlock(call, result, options);
  });
  return { results, blocks };
}

/**
 * The step report's result of a denied call: not run (`durationMs` 0), `APPROVAL_DENIED` (not
 * retryable) with who denied it and why.
 */
export function deniedResult(call: ToolCallBlock, denial: LoopApprovalDecision): ToolCallResult {
  return {
    tool: call.name,
    args: call.arguments,
    ok: false,
    error: {
      code: "APPROVAL_DENIED",
      message: `the call was denied by ${denial.approver}${denial.comment ? `: ${denial.comment}` : ""}`,
      retryable: false,
    },
    durationMs: 0,
  };
}

/**
 * A denied call as the model reads it: an error result, the advice outside the fence, who denied
 * it and the approver's comment inside (the comment is free text, so it is fenced like any data).
 */
function deniedBlock(call: ToolCallBlock, denial: LoopApprovalDecision, options: RunToolCallsOptions): ToolResultBlock {
  const data = truncateMiddle(
    `The call was denied by ${denial.approver}${denial.comment ? `: ${denial.comment}` : ""}.`,
    options.maxResultChars,
  );
  const fenced = fenceUntrusted(data, {
    tag: "tool_output",
    attributes: { tool: call.name, call_id: call.id, status: "denied" },
    ...(options.newNonce ? { newNonce: options.newNonce } : {}),
  });
  return {
    type: "tool_result",
    toolCallId: call.id,
    content: `The call was not run: a person denied it. Do not retry it; continue without it or answer that it could not be done.\n${fenced}`,
    isError: true,
  };
}

/** One result as the model reads it: the fenced output, or a hint plus the fenced error. */
function toResultBlock(call: ToolCallBlock, result: ToolCallResult, options: RunToolCallsOptions): ToolResultBlock {
  const fence = {
    tag: "tool_output" as const,
    attributes: { tool: call.name, call_id: call.id, status: result.ok ? "ok" : "error" },
    ...(options.newNonce ? { newNonce: options.newNonce } : {}),
  };
  if (result.ok) {
    const data = truncateMiddle(serializeForModel(result.output), options.maxResultChars);
    return { type: "tool_result", toolCallId: call.id, content: fenceUntrusted(data, fence) };
  }
  const data = truncateMiddle(describeError(result.error), options.maxResultChars);
  return {
    type: "tool_result",
    toolCallId: call.id,
    content: `The call failed (${result.error.code}). ${HINTS[result.error.code] ?? DEFAULT_HINT}\n${fenceUntrusted(data, fence)}`,
    isError: true,
  };
}

/** The error's message, then its field issues one per line (`- args.b: expected number, received string`). */
function describeError(error: ErrorInfo): string {
  const issues = error.issues?.length ? `\nissues:\n${error.issues.map((i) => `- ${i.path}: ${i.message}`).join("\n")}` : "";
  return `${error.code}: ${error.message}${issues}`;
}

/** What the model should do about a failed call, by error code. */
const HINTS: Partial<Record<ErrorCode, string>> = {
  INVALID_ARGUMENTS: "Fix the arguments so that they match the tool's input schema, then call it again.",
  UNKNOWN_TOOL: "Call only the tools you were given.",
  TOOL_TIMEOUT: "The tool ran out of time; retry at most once, with a smaller request if you can.",
  TOOL_OUTPUT_TOO_LARGE: "Ask for less output (a narrower query, fewer rows).",
  TOOL_REFUSED: "The tool does not allow this request; do not retry it unchanged.",
};
const DEFAULT_HINT = "Decide whether another approach can still complete the step.";
