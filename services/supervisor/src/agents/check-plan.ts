import { type AgentCard, collectStepRefs, type ErrorCode, type FieldIssue, type Plan, type ToolCard } from "@baton/contracts";
import { compileJsonSchema, type JsonSchemaCheck } from "@baton/core";

/** Why a plan cannot run on the registered agents: the most telling code, and every offending field. */
export interface PlanAgentProblem {
  /** `UNKNOWN_AGENT`, `UNKNOWN_TOOL`, `INVALID_ARGUMENTS` or `LLM_UNAVAILABLE`, in that order of precedence. */
  readonly code: ErrorCode;
  readonly issues: FieldIssue[];
}

/** The cards to check a plan against, by agent name. */
export type CardLookup = (agent: string) => AgentCard | undefined;

const CODE_ORDER: readonly ErrorCode[] = ["UNKNOWN_AGENT", "UNKNOWN_TOOL", "INVALID_ARGUMENTS", "LLM_UNAVAILABLE"];

/**
 * Checks every step of `plan` against the registered agent cards: the step's agent is registered
 * (else the issue lists the registered agents), every explicit tool call and compensation names one
 * of that agent's tools (else the issue lists its tools), their arguments satisfy the tool's input
 * JSON Schema (`$fromStep` references are resolved only at dispatch, so whatever sits at or above a
 * reference is not judged here: the worker checks the resolved arguments), and a step without tool
 * calls goes to an agent that runs an LLM loop.
 * @param names every registered agent's name, for the messages.
 * @param prefix put before each issue's path, e.g. `plan` (→ `plan.steps.2.agent`).
 * @returns undefined when the plan can run.
 */
export function checkPlanAgainstCards(
  plan: Plan,
  cardOf: CardLookup,
  names: readonly string[],
  prefix: string,
  schemas: SchemaCache = new SchemaCache(),
): PlanAgentProblem | undefined {
  const found: { code: ErrorCode; issue: FieldIssue }[] = [];
  const at = (...parts: (string | number)[]) => [prefix, ...parts].filter((p) => p !== "").join(".");
  plan.steps.forEach((step, i) => {
    const card = cardOf(step.agent);
    if (!card) {
      found.push({
        code: "UNKNOWN_AGENT",
        issue: {
          path: at("steps", i, "agent"),
          message: `unknown agent "${step.agent}"; ${names.length > 0 ? `registered agents: ${names.join(", ")}` : "no agent is registered yet (start a worker first)"}`,
        },
      });
      return;
    }
    step.toolCalls.forEach((call, j) => {
      found.push(...checkCall(card, call, schemas, at("steps", i, "toolCalls", j)));
    });
    if (step.compensation) found.push(...checkCall(card, step.compensation, schemas, at("steps", i, "compensation")));
    if (step.toolCalls.length === 0 && !card.llm) {
      found.push({
        code: "LLM_UNAVAILABLE",
        issue: {
          path: at("steps", i, "toolCalls"),
          message: `agent "${card.agent}" runs no LLM loop, so the step needs explicit toolCalls (its tools: ${toolNames(card)})`,
        },
      });
    }
  });
  if (found.length === 0) return undefined;
  const code = CODE_ORDER.find((c) => found.some((f) => f.code === c)) ?? "VALIDATION_FAILED";
  return { code, issues: found.map((f) => f.issue) };
}

function checkCall(
  card: AgentCard,
  call: { tool: string; args: Record<string, unknown> },
  schemas: SchemaCache,
  path: string,
): { code: ErrorCode; issue: FieldIssue }[] {
  const tool = card.tools.find((t) => t.name === call.tool);
  if (!tool) {
    return [
      {
        code: "UNKNOWN_TOOL",
        issue: { path: `${path}.tool`, message: `agent "${card.agent}" has no tool "${call.tool}"; its tools: ${toolNames(card)}` },
      },
    ];
  }
  const check = schemas.get(card, tool);
  if (!check) return [];
  const refs = collectStepRefs(call.args).map((r) => ["args", ...r.path.map(String)].join("."));
  const judged = check(call.args).filter((issue) => !refs.some((ref) => related(issue.path, ref)));
  return judged.map((issue) => ({
    code: "INVALID_ARGUMENTS" as const,
    issue: { path: `${path}.${issue.path}`, message: `${issue.message} (tool ${card.agent}/${tool.name})` },
  }));
}

/** Whether an issue's path is a reference's path, inside it, or one of its ancestors. */
function related(issuePath: string, refPath: string): boolean {
  return issuePath === refPath || issuePath.startsWith(`${refPath}.`) || refPath.startsWith(`${issuePath}.`);
}

function toolNames(card: AgentCard): string {
  return card.tools.map((t) => t.name).join(", ") || "(none)";
}

/**
 * Compiled argument checks of the tools in the cards, by agent, tool and card revision (the
 * card's `updatedAt`), so a schema is compiled once. A schema that does not compile is not used
 * (the worker still checks the arguments).
 */
export class SchemaCache {
  readonly #checks = new Map<string, JsonSchemaCheck | undefined>();
  readonly #onError: ((tool: string, error: unknown) => void) | undefined;

  constructor(onError?: (tool: string, error: unknown) => void) {
    this.#onError = onError;
  }

  get(card: AgentCard, tool: ToolCard): JsonSchemaCheck | undefined {
    const key = `${card.agent}\u0000${tool.name}\u0000${card.updatedAt}`;
    if (!this.#checks.has(key)) {
      let check: JsonSchemaCheck | undefined;
      try {
        check = compileJsonSchema(tool.inputSchema, "args");
      } catch (error) {
        this.#onError?.(`${card.agent}/${tool.name}`, error);
      }
      if (this.#checks.size > 1_000) this.#checks.clear();
      this.#checks.set(key, check);
    }
    return this.#checks.get(key);
  }
}

/**
 * The plan with each step's compensation filled in from its tool's card where the plan gives none:
 * a step whose last tool call declares a compensation gets `{ tool, args }` with each argument a
 * `$fromStep` reference to the step's own output at the declared JSON Pointer.
 */
export function withDeclaredCompensations(plan: Plan, cardOf: CardLookup): Plan {
  let changed = false;
  const steps = plan.steps.map((step) => {
    const last = step.toolCalls.at(-1);
    if (step.compensation || !last) return step;
    const declared = cardOf(step.agent)?.tools.find((t) => t.name === last.tool)?.compensation;
    if (!declared) return step;
    changed = true;
    const args = Object.fromEntries(Object.entries(declared.args).map(([name, pointer]) => [name, { $fromStep: step.id, path: pointer }]));
    return { ...step, compensation: { tool: declared.tool, args } };
  });
  return changed ? { ...plan, steps } : plan;
}
