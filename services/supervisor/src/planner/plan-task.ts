import { type AgentCard, type MemorySummary, Plan, type Usage, toFieldIssues } from "@baton/contracts";
import { checkPlanAgainstCards } from "../agents/check-plan.ts";
import { BatonError, type BudgetGuard } from "@baton/core";
import { type ChatMessage, type ChatProvider, responseToolCalls } from "@baton/llm";
import { z } from "zod";
import { PLANNER_SYSTEM_PROMPT, plannerUserPrompt } from "./prompt.ts";

/** Options of {@link planTask}. */
export interface PlanTaskOptions {
  readonly provider: ChatProvider;
  readonly model: string;
  readonly goal: string;
  readonly taskId: string;
  /** The registered agents' cards: the prompt is built from them and plans are checked against them. */
  readonly agents: readonly AgentCard[];
  /** The memory store's most relevant summaries for the goal. */
  readonly memories: readonly MemorySummary[];
  /** Times an invalid plan is sent back with its errors before giving up. Default 2. */
  readonly maxRepairs?: number;
  /** Output token limit per call. Default 4,096. */
  readonly maxOutputTokens?: number;
  readonly budget?: BudgetGuard;
  readonly signal?: AbortSignal;
}

/** A plan the model produced, with what producing it cost. */
export interface PlanResult {
  readonly plan: Plan;
  readonly usage: Usage;
  /** Model calls made (1 + repairs). */
  readonly attempts: number;
}

const SUBMIT_PLAN = "submit_plan";

/**
 * Decomposes a goal into a Plan DAG with the LLM: structured output through a forced tool call
 * whose input schema is the Plan zod schema (as JSON Schema). An invalid plan goes back to the
 * model as a tool error listing the validation errors, up to `maxRepairs` times.
 * @throws BatonError `PLAN_INVALID` when no valid plan came back; `BUDGET_EXCEEDED` from the
 *   budget guard; LlmError (retryable or not) from the provider.
 */
export async function planTask(options: PlanTaskOptions): Promise<PlanResult> {
  const maxRepairs = options.maxRepairs ?? 2;
  const inputSchema = z.toJSONSchema(Plan, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const messages: ChatMessage[] = [
    { role: "user", content: [{ type: "text", text: plannerUserPrompt(options.goal, options.agents, options.memories) }] },
  ];
  const usage: Usage = { toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  let lastErrors = "";
  for (let attempt = 1; attempt <= maxRepairs + 1; attempt++) {
    await options.budget?.check();
    const response = await options.provider.chat({
      model: options.model,
      system: PLANNER_SYSTEM_PROMPT,
      messages,
      tools: [{ name: SUBMIT_PLAN, description: "Submit the plan: a DAG of steps for the worker agents.", inputSchema }],
      forceTool: SUBMIT_PLAN,
      maxTokens: options.maxOutputTokens ?? 4_096,
      ...(options.signal ? { signal: options.signal } : {}),
      attribution: { taskId: options.taskId, role: "planner" },
    });
    usage.inputTokens += response.usage.inputTokens;
    usage.outputTokens += response.usage.outputTokens;
    usage.costUsd += response.costUsd;
    await options.budget?.record({
      inputTokens: response.usage.inputTokens,
      outputTokens: response.usage.outputTokens,
      costUsd: response.costUsd,
    });
    const call = responseToolCalls(response).find((c) => c.name === SUBMIT_PLAN);
    const errors = call ? validatePlan(call.parseError, call.arguments, options.agents) : "you did not call submit_plan";
    if (call && errors === undefined) return { plan: Plan.parse(call.arguments), usage, attempts: attempt };
    lastErrors = errors ?? "";
    messages.push({ role: "assistant", content: response.content });
    messages.push({
      role: "user",
      content: call
        ? [
            {
              type: "tool_result",
              toolCallId: call.id,
              isError: true,
              content: `The plan is invalid. Fix these errors and call submit_plan again:\n${lastErrors}`,
            },
          ]
        : [{ type: "text", text: "Call submit_plan with the plan." }],
    });
  }
  throw new BatonError("PLAN_INVALID", `the planner produced no valid plan in ${maxRepairs + 1} attempts; last errors: ${lastErrors}`, {
    retryable: false,
  });
}

/** Validation errors of a proposed plan (schema, DAG, and the registered agents and tools), one per line, or undefined when it is valid. */
function validatePlan(parseError: string | undefined, args: Record<string, unknown>, agents: readonly AgentCard[]): string | undefined {
  if (parseError) return `the arguments were not valid JSON: ${parseError}`;
  const parsed = Plan.safeParse(args);
  if (!parsed.success)
    return toFieldIssues(parsed.error)
      .map((i) => `- ${i.path}: ${i.message}`)
      .join("\n");
  const cards = new Map(agents.map((a) => [a.agent, a]));
  const problem = checkPlanAgainstCards(parsed.data, (name) => cards.get(name), [...cards.keys()], "");
  return problem?.issues.map((i) => `- ${i.path}: ${i.message}`).join("\n");
}
