import {
  type FieldIssue,
  type RiskTier,
  type ToolCard,
  type ToolCompensation,
  type ToolDisplay,
  ToolName,
  toFieldIssues,
} from "@baton/contracts";
import { compileJsonSchema } from "@baton/core";
import { z } from "zod";

export type { RiskTier, ToolCompensation, ToolDisplay } from "@baton/contracts";

/** What a running tool call may use. */
export interface ToolContext {
  /** Aborted on the tool's timeout or when the step is abandoned; tools must stop promptly. */
  readonly signal: AbortSignal;
  readonly taskId: string;
  readonly stepId: string;
  /** Outputs of the step's direct dependencies, by step id (data, never code). */
  readonly inputs: Readonly<Record<string, unknown>>;
  /**
   * Set for every call of a tool that is not idempotent: the call's effect id (64 lower-case hex
   * characters, SHA-256 of task, step, tool and canonical arguments; see `effectId`). It is the
   * same for every repeat of the same call — a redelivery, another replica, a takeover of a claim
   * in doubt — and different for any other call. A tool with `usesIdempotencyKey` passes it to
   * the system it changes (an `Idempotency-Key` header, a UNIQUE column) so a repeat is
   * recognised there. Undefined for idempotent tools.
   */
  readonly idempotencyKey?: string;
}

/** The result of checking a call's arguments: the value to run with (defaults applied), or the issues. */
export type ArgsCheck<A> = { readonly ok: true; readonly value: A } | { readonly ok: false; readonly issues: FieldIssue[] };

/**
 * A tool: a description written for a model, its arguments' schema, a time limit, a risk tier and
 * whether it is idempotent. `execute` receives arguments already checked by `parseArgs` and
 * returns JSON-serializable output; expected failures are thrown as {@link ToolError}.
 * Made with {@link defineTool} (a zod schema; `I` is its type) or {@link defineJsonSchemaTool}
 * (a JSON Schema, e.g. an MCP server's).
 */
export interface Tool<I extends z.ZodType = z.ZodType, O = unknown> {
  /** 1–64 characters of `A-Z a-z 0-9 _ -` (`snake_case` by convention), unique within an agent. */
  readonly name: string;
  readonly description: string;
  /** The zod schema, for tools made with {@link defineTool}. */
  readonly input?: I;
  /** JSON Schema (draft 2020-12) of the arguments: what models and the agent card see. */
  readonly inputSchema: Record<string, unknown>;
  /** Wall-clock limit for one call in ms. */
  readonly timeoutMs: number;
  readonly riskTier: RiskTier;
  /** True when running the call twice has the same effect as once. */
  readonly idempotent: boolean;
  /**
   * True for a non-idempotent tool that passes `ctx.idempotencyKey` to the system it changes, which
   * recognises a repeated key (returns the first result, never a second effect). A claim of its
   * effect left in doubt by a dead owner is then taken over and the call repeated with the same key,
   * instead of failing with `EFFECT_IN_DOUBT`. Absent = false.
   */
  readonly usesIdempotencyKey?: boolean;
  /** How the output is best shown in an answer; default: chosen by its shape. */
  readonly display?: ToolDisplay;
  /** The tool of the same agent that undoes a call (saga), with arguments from the call's output. */
  readonly compensation?: ToolCompensation;
  /** Checks and normalizes arguments; issue paths start with `args`. */
  parseArgs(args: unknown): ArgsCheck<z.output<I>>;
  execute(args: z.output<I>, ctx: ToolContext): Promise<O>;
}

/** What {@link defineTool} takes. */
export interface ToolDefinition<I extends z.ZodType, O> {
  /** 1–64 characters of `A-Z a-z 0-9 _ -`, unique within the agent. */
  readonly name: string;
  /** Written for a model: what the tool does, when to use it, what it returns. */
  readonly description: string;
  /** The arguments' zod schema; its JSON Schema (input view) is what models and the card see. */
  readonly input: I;
  /** Wall-clock limit of one call in ms; default 30,000. */
  readonly timeoutMs?: number;
  readonly riskTier: RiskTier;
  /** True when running the call twice has the same effect as once; non-idempotent calls go through the effect ledger. */
  readonly idempotent: boolean;
  /**
   * Only with `idempotent: false`: the tool passes `ctx.idempotencyKey` to the system it changes
   * (e.g. as an `Idempotency-Key` header or into a UNIQUE column), and that system turns a repeated
   * key into the first call's result. Then a call whose first run was cut off (its worker killed
   * mid-write) is repeated with the same key rather than failed with `EFFECT_IN_DOUBT`, and the
   * wait before repeating is shortened to the tool's `timeoutMs` plus 2 s (at most the ledger's
   * 30 s). Default false.
   */
  readonly usesIdempotencyKey?: boolean;
  readonly display?: ToolDisplay;
  readonly compensation?: ToolCompensation;
  execute(args: z.output<I>, ctx: ToolContext): Promise<O>;
}

/** Default wall-clock limit of a tool call, in ms. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;

/**
 * Defines a tool whose arguments are checked by a zod schema; `execute`'s argument type is
 * inferred from it.
 * @throws RangeError for an invalid name or timeout, or `usesIdempotencyKey` on an idempotent
 *   tool (at definition, not at the first call).
 */
export function defineTool<I extends z.ZodType, O>(definition: ToolDefinition<I, O>): Tool<I, O> {
  checkDefinition(definition);
  const { input } = definition;
  return {
    name: definition.name,
    description: definition.description,
    input,
    inputSchema: z.toJSONSchema(input, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    timeoutMs: definition.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    riskTier: definition.riskTier,
    idempotent: definition.idempotent,
    ...(definition.usesIdempotencyKey ? { usesIdempotencyKey: true } : {}),
    ...(definition.display ? { display: definition.display } : {}),
    ...(definition.compensation ? { compensation: definition.compensation } : {}),
    parseArgs(args) {
      const parsed = input.safeParse(args);
      return parsed.success ? { ok: true, value: parsed.data } : { ok: false, issues: toFieldIssues(parsed.error, "args") };
    },
    execute: (args, ctx) => definition.execute(args, ctx),
  };
}

/** What {@link defineJsonSchemaTool} takes: a {@link ToolDefinition} with a JSON Schema instead of zod. */
export interface JsonSchemaToolDefinition<O> extends Omit<ToolDefinition<z.ZodType, O>, "input" | "execute"> {
  /** JSON Schema of the arguments (an object schema), e.g. an MCP tool's `inputSchema`. */
  readonly inputSchema: Record<string, unknown>;
  execute(args: Record<string, unknown>, ctx: ToolContext): Promise<O>;
}

/**
 * Defines a tool whose arguments are checked against a JSON Schema (with Ajv), for tools described
 * by another program, such as an MCP server.
 * @throws RangeError for an invalid name or timeout; Error when the schema cannot be compiled.
 */
export function defineJsonSchemaTool<O>(definition: JsonSchemaToolDefinition<O>): Tool<z.ZodType, O> {
  checkDefinition(definition);
  const check = compileJsonSchema(definition.inputSchema, "args");
  return {
    name: definition.name,
    description: definition.description,
    inputSchema: definition.inputSchema,
    timeoutMs: definition.timeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS,
    riskTier: definition.riskTier,
    idempotent: definition.idempotent,
    ...(definition.usesIdempotencyKey ? { usesIdempotencyKey: true } : {}),
    ...(definition.display ? { display: definition.display } : {}),
    ...(definition.compensation ? { compensation: definition.compensation } : {}),
    parseArgs(args) {
      if (args === null || typeof args !== "object" || Array.isArray(args)) {
        return { ok: false, issues: [{ path: "args", message: "must be an object" }] };
      }
      const issues = check(args);
      return issues.length === 0 ? { ok: true, value: args } : { ok: false, issues };
    },
    execute: (args, ctx) => definition.execute(args as Record<string, unknown>, ctx),
  };
}

/**
 * A tool as its agent card lists it. (`usesIdempotencyKey` is not on the card yet: the card's
 * schema in @baton/contracts refuses unknown fields until it has one.)
 */
export function toolCard(tool: Tool): ToolCard {
  return {
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
    riskTier: tool.riskTier,
    idempotent: tool.idempotent,
    timeoutMs: tool.timeoutMs,
    ...(tool.usesIdempotencyKey ? { usesIdempotencyKey: true } : {}),
    ...(tool.display ? { display: tool.display } : {}),
    ...(tool.compensation ? { compensation: tool.compensation } : {}),
  };
}

function checkDefinition({
  name,
  timeoutMs,
  idempotent,
  usesIdempotencyKey,
}: {
  name: string;
  timeoutMs?: number | undefined;
  idempotent: boolean;
  usesIdempotencyKey?: boolean | undefined;
}): void {
  if (usesIdempotencyKey && idempotent) {
    throw new RangeError(`tool "${name}": usesIdempotencyKey applies to tools that are not idempotent (idempotent tools get no key)`);
  }
  if (!ToolName.safeParse(name).success) throw new RangeError(`tool name "${name}" must be 1-64 characters of A-Z, a-z, 0-9, '_' or '-'`);
  if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > 3_600_000)) {
    throw new RangeError(`tool "${name}": timeoutMs must be an integer from 1 to 3,600,000 (ms)`);
  }
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
