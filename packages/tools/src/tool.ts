import type { z } from "zod";

/**
 * How much harm a tool can do, least first. Agents get least-privilege tool sets; tiers
 * above `compute` will need a human approval gate (not offered by any tool in this release).
 * - `read`: reads data the agent was given (corpus, datasets); no side effects.
 * - `compute`: pure computation in a sandbox; no I/O.
 * - `write`: changes state the task owns.
 * - `external`: side effects outside Baton (network, payments, e-mail).
 */
export type RiskTier = "read" | "compute" | "write" | "external";

/** What a running tool call may use. */
export interface ToolContext {
  /** Aborted on the tool's timeout or when the step is abandoned; tools must stop promptly. */
  readonly signal: AbortSignal;
  readonly taskId: string;
  readonly stepId: string;
  /** Outputs of the step's direct dependencies, by step id (data, never code). */
  readonly inputs: Readonly<Record<string, unknown>>;
}

/**
 * A tool: a zod input schema, a description written for a model, and a time limit.
 * `execute` receives arguments already validated by `input` and returns JSON-serializable
 * output; expected failures are thrown as {@link ToolError}.
 */
export interface Tool<I extends z.ZodType = z.ZodType, O = unknown> {
  /** `snake_case`, unique within an agent's registry. */
  readonly name: string;
  readonly description: string;
  readonly input: I;
  /** Wall-clock limit for one call in ms. */
  readonly timeoutMs: number;
  readonly riskTier: RiskTier;
  /** True when running the call twice has the same effect as once. */
  readonly idempotent: boolean;
  execute(args: z.output<I>, ctx: ToolContext): Promise<O>;
}

/** Identity helper that infers `execute`'s argument type from the `input` schema. */
export function defineTool<I extends z.ZodType, O>(tool: Tool<I, O>): Tool<I, O> {
  return tool;
}

/** Codes a tool may throw; they travel on the bus in the tool call's result. */
export type ToolErrorCode = "TOOL_FAILED" | "TOOL_REFUSED" | "INVALID_ARGUMENTS" | "TOOL_TIMEOUT";

/**
 * An expected tool failure, reported as a structured error in the step result (never a crash).
 * `TOOL_REFUSED`: the request is outside what the tool allows (e.g. SQL writes).
 */
export class ToolError extends Error {
  override readonly name = "ToolError";
  readonly code: ToolErrorCode;
  readonly retryable: boolean;
  constructor(code: ToolErrorCode, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? false;
  }
}
