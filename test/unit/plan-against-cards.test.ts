import { type AgentCard, Plan } from "@baton/contracts";
import { checkPlanAgainstCards, withDeclaredCompensations } from "@baton/supervisor";
import { describe, expect, it } from "vitest";

const geo: AgentCard = {
  schemaVersion: 1,
  agent: "geo",
  version: "1.0.0",
  description: "Airports.",
  llm: false,
  updatedAt: "2026-11-30T00:00:00.000Z",
  tools: [
    {
      name: "airport_distance",
      description: "Distance.",
      inputSchema: {
        type: "object",
        properties: { from: { type: "string", minLength: 3 }, to: { type: "string", minLength: 3 } },
        required: ["from", "to"],
        additionalProperties: false,
      },
      riskTier: "compute",
      idempotent: true,
      timeoutMs: 1_000,
    },
    {
      name: "create_note",
      description: "Creates a note.",
      inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] },
      riskTier: "write",
      idempotent: false,
      timeoutMs: 1_000,
      compensation: { tool: "delete_note", args: { id: "/id" } },
    },
    {
      name: "delete_note",
      description: "Deletes a note.",
      inputSchema: { type: "object" },
      riskTier: "write",
      idempotent: true,
      timeoutMs: 1_000,
    },
  ],
};
const thinker: AgentCard = { ...geo, agent: "thinker", llm: true, tools: [] };
const cards = new Map([
  ["geo", geo],
  ["thinker", thinker],
]);
const lookup = (name: string) => cards.get(name);
const names = ["geo", "thinker"];
const plan = (steps: unknown[]) => Plan.parse({ steps });
const call = (tool: string, args: Record<string, unknown>) => ({ tool, args });

describe("checking a plan against the registered agent cards", () => {
  it("accepts steps for registered agents with their tools and valid arguments", () => {
    const p = plan([
      { id: "a", agent: "geo", instruction: "x", toolCalls: [call("airport_distance", { from: "SEA", to: "JFK" })] },
      { id: "b", agent: "thinker", instruction: "think" },
    ]);
    expect(checkPlanAgainstCards(p, lookup, names, "plan")).toBeUndefined();
  });

  it("names an unregistered agent with the registered ones", () => {
    const problem = checkPlanAgainstCards(plan([{ id: "a", agent: "weather", instruction: "x" }]), lookup, names, "plan");
    expect(problem?.code).toBe("UNKNOWN_AGENT");
    expect(problem?.issues).toEqual([{ path: "plan.steps.0.agent", message: 'unknown agent "weather"; registered agents: geo, thinker' }]);
    const none = checkPlanAgainstCards(plan([{ id: "a", agent: "weather", instruction: "x" }]), () => undefined, [], "plan");
    expect(none?.issues[0]?.message).toContain("no agent is registered yet");
  });

  it("names a tool the agent does not have with its tools, also in a compensation", () => {
    const problem = checkPlanAgainstCards(
      plan([{ id: "a", agent: "geo", instruction: "x", toolCalls: [call("teleport", {})], compensation: call("untele", {}) }]),
      lookup,
      names,
      "plan",
    );
    expect(problem?.code).toBe("UNKNOWN_TOOL");
    expect(problem?.issues.map((i) => i.path)).toEqual(["plan.steps.0.toolCalls.0.tool", "plan.steps.0.compensation.tool"]);
    expect(problem?.issues[0]?.message).toBe('agent "geo" has no tool "teleport"; its tools: airport_distance, create_note, delete_note');
  });

  it("checks arguments against the tool's JSON Schema with field paths", () => {
    const problem = checkPlanAgainstCards(
      plan([{ id: "a", agent: "geo", instruction: "x", toolCalls: [call("airport_distance", { from: 7, extra: true })] }]),
      lookup,
      names,
      "plan",
    );
    expect(problem?.code).toBe("INVALID_ARGUMENTS");
    expect(problem?.issues.map((i) => i.path).sort()).toEqual([
      "plan.steps.0.toolCalls.0.args.extra",
      "plan.steps.0.toolCalls.0.args.from",
      "plan.steps.0.toolCalls.0.args.to",
    ]);
  });

  it("leaves arguments that hold a $fromStep reference to the worker", () => {
    const p = plan([
      { id: "a", agent: "geo", instruction: "x", toolCalls: [call("airport_distance", { from: "SEA", to: "JFK" })] },
      {
        id: "b",
        agent: "geo",
        instruction: "y",
        dependsOn: ["a"],
        toolCalls: [call("airport_distance", { from: { $fromStep: "a", path: "/to" }, to: "BOS" })],
      },
    ]);
    expect(checkPlanAgainstCards(p, lookup, names, "plan")).toBeUndefined();
  });

  it("rejects a step without tool calls for an agent that runs no LLM loop", () => {
    const problem = checkPlanAgainstCards(plan([{ id: "a", agent: "geo", instruction: "x" }]), lookup, names, "plan");
    expect(problem).toMatchObject({ code: "LLM_UNAVAILABLE", issues: [{ path: "plan.steps.0.toolCalls" }] });
  });

  it("reports the most telling code when issues of several kinds are found", () => {
    const problem = checkPlanAgainstCards(
      plan([
        { id: "a", agent: "geo", instruction: "x", toolCalls: [call("airport_distance", {})] },
        { id: "b", agent: "nobody", instruction: "x" },
      ]),
      lookup,
      names,
      "",
    );
    expect(problem?.code).toBe("UNKNOWN_AGENT");
    expect(problem?.issues.map((i) => i.path)).toContain("steps.1.agent");
  });

  it("fills in a compensation the tool's card declares, unless the plan gives one", () => {
    const p = plan([
      { id: "note", agent: "geo", instruction: "x", toolCalls: [call("create_note", { text: "hi" })] },
      {
        id: "own",
        agent: "geo",
        instruction: "x",
        toolCalls: [call("create_note", { text: "hi" })],
        compensation: call("delete_note", { id: 1 }),
      },
    ]);
    const filled = withDeclaredCompensations(p, lookup);
    expect(filled.steps[0]?.compensation).toEqual({ tool: "delete_note", args: { id: { $fromStep: "note", path: "/id" } } });
    expect(filled.steps[1]?.compensation).toEqual({ tool: "delete_note", args: { id: 1 } });
    expect(Plan.safeParse(filled).success).toBe(true);
  });
});
