import type { AgentCard } from "@baton/contracts";
import { ScriptedChatProvider } from "@baton/llm";
import { planTask } from "@baton/supervisor";
import { describe, expect, it } from "vitest";

const card = (agent: string, tool: string, description: string): AgentCard => ({
  schemaVersion: 1,
  agent,
  version: "1.0.0",
  description: `The ${agent} agent.`,
  llm: true,
  updatedAt: "2026-11-22T00:00:00.000Z",
  tools: [{ name: tool, description, inputSchema: { type: "object" }, riskTier: "read", idempotent: true, timeoutMs: 1_000 }],
});
const agents: AgentCard[] = [card("data", "sql_query", "Runs SQL. More."), card("code", "evaluate_expression", "Evaluates math.")];
const goodPlan = {
  steps: [
    { id: "load", agent: "data", instruction: "Average highs per month" },
    { id: "convert", agent: "code", instruction: "Convert to Fahrenheit", dependsOn: ["load"] },
  ],
};

describe("the LLM planner", () => {
  it("turns a goal into a Plan DAG through a forced submit_plan tool call", async () => {
    const model = new ScriptedChatProvider([{ toolCalls: [{ name: "submit_plan", arguments: goodPlan }] }]);
    const result = await planTask({ provider: model, model: "m", goal: "weather", taskId: "t", agents, memories: [] });
    expect(result.plan.steps.map((s) => s.id)).toEqual(["load", "convert"]);
    expect(result.attempts).toBe(1);
    const request = model.requests[0];
    expect(request?.forceTool).toBe("submit_plan");
    expect(request?.tools?.[0]?.inputSchema).toHaveProperty("properties.steps");
    const prompt = JSON.stringify(request?.messages);
    expect(prompt).toContain("Goal: weather");
    expect(prompt).toContain("data: sql_query (Runs SQL.)");
  });

  it("sends an invalid plan back with its errors and accepts the repaired one", async () => {
    const cyclic = {
      steps: [
        { id: "a", agent: "data", instruction: "x", dependsOn: ["b"] },
        { id: "b", agent: "data", instruction: "y", dependsOn: ["a"] },
      ],
    };
    const model = new ScriptedChatProvider([
      { toolCalls: [{ id: "call_bad", name: "submit_plan", arguments: cyclic }] },
      { toolCalls: [{ name: "submit_plan", arguments: goodPlan }] },
    ]);
    const result = await planTask({ provider: model, model: "m", goal: "g", taskId: "t", agents, memories: [] });
    expect(result.attempts).toBe(2);
    const repair = model.requests[1]?.messages.at(-1)?.content[0];
    expect(repair).toMatchObject({ type: "tool_result", toolCallId: "call_bad", isError: true });
    expect(repair?.type === "tool_result" ? repair.content : "").toContain("dependency cycle: a -> b -> a");
    expect(result.usage.inputTokens).toBe(20);
  });

  it("rejects tools the agent does not have", async () => {
    const wrongTool = { steps: [{ id: "a", agent: "data", instruction: "x", toolCalls: [{ tool: "rm_rf", args: {} }] }] };
    const model = new ScriptedChatProvider([
      { toolCalls: [{ name: "submit_plan", arguments: wrongTool }] },
      { toolCalls: [{ name: "submit_plan", arguments: wrongTool }] },
    ]);
    await expect(
      planTask({ provider: model, model: "m", goal: "g", taskId: "t", agents, memories: [], maxRepairs: 1 }),
    ).rejects.toMatchObject({
      code: "PLAN_INVALID",
      message: expect.stringContaining('agent "data" has no tool "rm_rf"; its tools: sql_query'),
    });
  });

  it("handles malformed arguments and a missing tool call without crashing, then fails with PLAN_INVALID", async () => {
    const model = new ScriptedChatProvider([
      { toolCalls: [{ name: "submit_plan", arguments: {}, parseError: "Unexpected token" }] },
      { text: "Here is my plan: …" },
      { toolCalls: [{ name: "submit_plan", arguments: { steps: "no" } }] },
    ]);
    await expect(planTask({ provider: model, model: "m", goal: "g", taskId: "t", agents, memories: [] })).rejects.toMatchObject({
      code: "PLAN_INVALID",
    });
    expect(model.requests).toHaveLength(3);
  });

  it("puts memory summaries in fences as data", async () => {
    const model = new ScriptedChatProvider([{ toolCalls: [{ name: "submit_plan", arguments: goodPlan }] }]);
    await planTask({
      provider: model,
      model: "m",
      goal: "g",
      taskId: "t",
      agents,
      memories: [
        {
          schemaVersion: 1,
          taskId: "old",
          goal: "earlier weather task",
          digest: "d",
          keyFacts: ["July is warmest"],
          agents: ["data"],
          tools: ["sql_query"],
          usage: { toolCalls: 1, inputTokens: 0, outputTokens: 0, costUsd: 0 },
          createdAt: "2026-11-21T00:00:00.000Z",
        },
      ],
    });
    expect(JSON.stringify(model.requests[0]?.messages)).toContain('<memory task=\\"old\\">');
  });

  it("stops when the budget guard refuses", async () => {
    const model = new ScriptedChatProvider([{ toolCalls: [{ name: "submit_plan", arguments: goodPlan }] }]);
    const budget = {
      check: async () => {
        throw Object.assign(new Error("over"), { code: "BUDGET_EXCEEDED" });
      },
      record: async () => {},
    };
    await expect(planTask({ provider: model, model: "m", goal: "g", taskId: "t", agents, memories: [], budget })).rejects.toMatchObject({
      code: "BUDGET_EXCEEDED",
    });
    expect(model.requests).toHaveLength(0);
  });
});
