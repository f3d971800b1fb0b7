import type { ErrorInfo, RiskTier, ToolCallResult, ToolCallSpec } from "@baton/contracts";
import { BatonError } from "@baton/core";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { TaskCancelledError, TimeoutStrategy, timeout } from "cockatiel";
import type { ToolBreakers } from "./breakers.ts";
import { type EffectLedger, effectId } from "./effects.ts";
import type { ToolRegistry } from "./registry.ts";
import { type ToolContext, ToolError } from "./tool.ts";

/** Options of {@link executeToolCall}. */
export interface ExecuteOptions {
  /** Largest JSON-serialized output accepted, in bytes; larger → `TOOL_OUTPUT_TOO_LARGE`. Default 262,144. */
  readonly maxOutputBytes?: number;
  /** Record tool arguments on the span (off by default: payloads stay out of traces). */
  readonly recordArgs?: boolean;
  /**
   * The effect ledger for tools that are not idempotent: their calls run at most once per
   * (task, step, tool, arguments); a repeat gets the recorded output. Without it they simply run.
   */
  readonly effects?: EffectLedger;
  /** Per-tool circuit breakers shared by the process; without them no breaker is used. */
  readonly breakers?: ToolBreakers;
  /**
   * Called once per call as it ends (whatever its result), e.g. to audit it. Runs synchronously
   * before `executeToolCall` resolves; it must not throw.
   */
  readonly onCall?: (observed: ObservedToolCall) => void;
}

/** A finished call as {@link ExecuteOptions.onCall} sees it. */
export interface ObservedToolCall {
  readonly taskId: string;
  readonly stepId: string;
  readonly result: ToolCallResult;
  /** The tool's risk tier; absent for an unknown tool. */
  readonly riskTier?: RiskTier;
  /** The effect id (idempotency key) of a call of a non-idempotent tool. */
  readonly effectId?: string;
}

const tracer = trace.getTracer("@baton/tools");

/**
 * For a tool with `usesIdempotencyKey`, another owner's claim is in doubt once it is older than
 * the tool's `timeoutMs` plus this margin (ms; at most the ledger's own limit): by then a live
 * owner's call has ended — recorded, released on failure, or aborted by its timeout — so what
 * is still unrecorded was cut off, and repeating it with the same key is safe.
 */
export const REPEATABLE_IN_DOUBT_MARGIN_MS = 2_000;

/**
 * Runs one tool call: looks the tool up, validates `args` with its zod schema, runs it under
 * its timeout (cockatiel, aggressive: the call's promise is abandoned and its signal aborted),
 * and caps the output size; a non-idempotent tool gets its effect id as `ctx.idempotencyKey` and
 * goes through the effect ledger (with `usesIdempotencyKey`, a claim in doubt is taken over and
 * the call repeated with the same key), and every call through its tool's circuit breaker, when
 * those are given. Never throws for tool problems: unknown tool, invalid arguments,
 * timeout, a thrown error and an oversized output all come back as `{ ok: false, error }`.
 * One span per call, named `execute_tool <name>` (OTel GenAI semantic conventions).
 */
export async function executeToolCall(
  registry: ToolRegistry,
  call: ToolCallSpec,
  ctx: ToolContext,
  options: ExecuteOptions = {},
): Promise<ToolCallResult> {
  const breakers = options.breakers;
  const result =
    breakers && registry.get(call.tool)
      ? await breakers.run(call.tool, call.args, () => executeOnce(registry, call, ctx, options))
      : await executeOnce(registry, call, ctx, options);
  if (options.onCall) {
    const tool = registry.get(call.tool);
    options.onCall({
      taskId: ctx.taskId,
      stepId: ctx.stepId,
      result,
      ...(tool ? { riskTier: tool.riskTier } : {}),
      ...(tool && !tool.idempotent
        ? { effectId: effectId({ taskId: ctx.taskId, stepId: ctx.stepId, tool: tool.name, args: call.args }) }
        : {}),
    });
  }
  return result;
}

async function executeOnce(registry: ToolRegistry, call: ToolCallSpec, ctx: ToolContext, options: ExecuteOptions): Promise<ToolCallResult> {
  const started = performance.now();
  const maxOutputBytes = options.maxOutputBytes ?? 262_144;
  return tracer.startActiveSpan(`execute_tool ${call.tool}`, { kind: SpanKind.INTERNAL }, async (span) => {
    span.setAttributes({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": call.tool,
      "baton.task.id": ctx.taskId,
      "baton.step.id": ctx.stepId,
    });
    if (options.recordArgs) span.setAttribute("gen_ai.tool.call.arguments", JSON.stringify(call.args));
    const fail = (error: ErrorInfo): ToolCallResult => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.setAttribute("error.type", error.code);
      return { tool: call.tool, args: call.args, ok: false as const, error, durationMs: performance.now() - started };
    };
    try {
      const tool = registry.get(call.tool);
      if (!tool) {
        return fail({
          code: "UNKNOWN_TOOL",
          message: `unknown tool "${call.tool}"; this agent has: ${registry.names().join(", ")}`,
          retryable: false,
        });
      }
      const parsed = tool.parseArgs(call.args);
      if (!parsed.ok) {
        return fail({
          code: "INVALID_ARGUMENTS",
          message: `invalid arguments for ${call.tool}: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`,
          retryable: false,
          issues: parsed.issues,
        });
      }
      // Every call of a non-idempotent tool carries its effect id as the idempotency key.
      const key = tool.idempotent ? undefined : { taskId: ctx.taskId, stepId: ctx.stepId, tool: tool.name, args: call.args };
      const idempotencyKey = key ? effectId(key) : undefined;
      const policy = timeout(tool.timeoutMs, TimeoutStrategy.Aggressive);
      const run = () =>
        policy.execute(
          ({ signal }) => tool.execute(parsed.value, { ...ctx, signal, ...(idempotencyKey ? { idempotencyKey } : {}) }),
          ctx.signal,
        );
      let output: unknown;
      if (key && idempotencyKey && options.effects) {
        // A tool that hands the key on may be repeated: its claim in doubt is taken over, and
        // sooner — a live owner's call cannot outlast the tool's timeout.
        const repeatable = tool.usesIdempotencyKey === true;
        const effect = await options.effects.run(
          idempotencyKey,
          key,
          run,
          repeatable ? { repeatInDoubt: true, inDoubtAfterMs: tool.timeoutMs + REPEATABLE_IN_DOUBT_MARGIN_MS } : undefined,
        );
        output = effect.output;
        span.setAttribute("baton.effect.replayed", effect.replayed);
        if (effect.repeated) span.setAttribute("baton.effect.repeated", true);
        if (effect.replayed) {
          return { tool: call.tool, args: call.args, ok: true as const, output, replayed: true, durationMs: performance.now() - started };
        }
      } else {
        output = await run();
      }
      const size = Buffer.byteLength(JSON.stringify(output ?? null));
      if (size > maxOutputBytes) {
        return fail({
          code: "TOOL_OUTPUT_TOO_LARGE",
          message: `${call.tool} returned ${size} bytes of JSON; the limit is ${maxOutputBytes}`,
          retryable: false,
        });
      }
      return { tool: call.tool, args: call.args, ok: true as const, output: output ?? null, durationMs: performance.now() - started };
    } catch (error) {
      if (error instanceof TaskCancelledError) {
        const tool = registry.get(call.tool);
        return fail({
          code: "TOOL_TIMEOUT",
          message: ctx.signal.aborted ? `${call.tool} was cancelled` : `${call.tool} exceeded its ${tool?.timeoutMs ?? "?"} ms timeout`,
          retryable: true,
        });
      }
      if (error instanceof ToolError || error instanceof BatonError) {
        return fail({ code: error.code, message: error.message, retryable: error.retryable });
      }
      span.recordException(error instanceof Error ? error : new Error(String(error)));
      return fail({
        code: "TOOL_FAILED",
        message: `${call.tool} failed: ${error instanceof Error ? error.message : String(error)}`,
        retryable: false,
      });
    } finally {
      span.end();
    }
  });
}
