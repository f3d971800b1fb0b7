import {
  AgentName,
  ApprovalPolicy,
  jsonShapeProblem,
  MAX_JSON_DEPTH,
  MAX_METADATA_ENTRIES,
  MAX_TOOL_ARGS_BYTES,
  needsApproval,
  RESERVED_NAMES,
  TaskSubmission,
  ToolName,
} from "@baton/contracts";
import { stepLimitMs } from "@baton/agent";
import { describe, expect, it } from "vitest";

const step = (over: Record<string, unknown> = {}) => ({
  id: "a",
  agent: "data",
  instruction: "x",
  toolCalls: [{ tool: "sql_query", args: { sql: "SELECT 1" } }],
  ...over,
});
const submission = (over: Record<string, unknown> = {}, plan: Record<string, unknown> = { steps: [step()] }) => ({
  taskId: "t1",
  goal: "g",
  plan,
  ...over,
});
const issuesOf = (value: unknown) => {
  const r = TaskSubmission.safeParse(value);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

describe("the submission's limits, enforced by the contract and tested at the boundary", () => {
  it("refuses every name objects inherit, in every field that names something", () => {
    // Own names of Object.prototype, plus __proto__ and prototype: 14 names here.
    expect(RESERVED_NAMES.size).toBeGreaterThanOrEqual(13);
    for (const name of RESERVED_NAMES) {
      const fields: [string, unknown][] = [
        ["taskId", submission({ taskId: name })],
        ["plan.steps.0.id", submission({}, { steps: [step({ id: name })] })],
        ["plan.steps.1.dependsOn.0", submission({}, { steps: [step(), step({ id: "b", dependsOn: [name] })] })],
        [
          "plan.steps.1.toolCalls.0.args.sql.$fromStep",
          submission(
            {},
            {
              steps: [step(), step({ id: "b", dependsOn: ["a"], toolCalls: [{ tool: "sql_query", args: { sql: { $fromStep: name } } }] })],
            },
          ),
        ],
        ["plan.steps.0.toolCalls.0.tool", submission({}, { steps: [step({ toolCalls: [{ tool: name, args: {} }] })] })],
      ];
      // As a metadata key: refused by the schema; `__proto__` (which schemas drop silently) before it.
      const metadata = submission({ metadata: JSON.parse(`{${JSON.stringify(name)}: "x"}`) });
      if (name === "__proto__") expect(jsonShapeProblem(metadata)?.path).toEqual(["metadata", "__proto__"]);
      else fields.push(["metadata", metadata]);
      for (const [path, value] of fields) {
        const issues = issuesOf(value);
        expect(issues.length, `${name} at ${path}`).toBeGreaterThan(0);
      }
      // Agent names are lower case: the reserved ones that fit their pattern are refused too.
      if (/^[a-z][a-z0-9-]{0,31}$/.test(name)) expect(AgentName.safeParse(name).success).toBe(false);
      expect(ToolName.safeParse(name).success).toBe(false);
    }
    expect(issuesOf(submission({}, { steps: [step({ id: "__proto__" })] }))).toEqual([
      expect.stringContaining("plan.steps.0.id: is a reserved name"),
    ]);
  });

  it("looks up the approval policy by own entries only", () => {
    const policy = ApprovalPolicy.parse({ tiers: ["write"] });
    // An agent or tool named like an inherited property must not find Object.prototype's.
    expect(needsApproval(policy, "constructor", { name: "x", riskTier: "write" })).toBe(true);
    expect(
      needsApproval(ApprovalPolicy.parse({ tiers: ["write"], agents: { a: { tools: {} } } }), "a", { name: "toString", riskTier: "write" }),
    ).toBe(true);
  });

  it("nesting: at most MAX_JSON_DEPTH levels (tool args ARGS_MAX_DEPTH), found without recursion at any depth", () => {
    const ok = { sql: "x", extra: nested(MAX_JSON_DEPTH - 8) };
    expect(issuesOf(submission({}, { steps: [step({ toolCalls: [{ tool: "sql_query", args: ok }] })] }))).toEqual([]);
    const deep = { sql: "x", extra: nested(MAX_JSON_DEPTH) };
    expect(issuesOf(submission({}, { steps: [step({ toolCalls: [{ tool: "sql_query", args: deep }] })] }))).toEqual([
      expect.stringMatching(/^plan\.steps\.0\.toolCalls\.0\.args\.extra(\.a)+: nested more than 58 levels deep$/),
    ]);
    // 100,000 levels (JSON.parse takes them; JSON.stringify would overflow the stack).
    const huge = JSON.parse(`${'{"a":'.repeat(100_000)}1${"}".repeat(100_000)}`);
    expect(jsonShapeProblem(huge)?.path.length).toBe(MAX_JSON_DEPTH);
    expect(issuesOf(submission({}, { steps: [step({ toolCalls: [{ tool: "sql_query", args: huge }] })] }))).toHaveLength(1);
  });

  it("metadata: at most 32 entries, keys of a safe alphabet, clean values of at most 256 characters", () => {
    const entries = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));
    expect(issuesOf(submission({ metadata: entries(MAX_METADATA_ENTRIES) }))).toEqual([]);
    expect(issuesOf(submission({ metadata: entries(MAX_METADATA_ENTRIES + 1) }))).toEqual(["metadata: at most 32 entries"]);
    expect(issuesOf(submission({ metadata: entries(10_000) }))).toEqual(["metadata: at most 32 entries"]);
    expect(issuesOf(submission({ metadata: { "a b": "v" } }))).toHaveLength(1);
    expect(issuesOf(submission({ metadata: { k: "v".repeat(256) } }))).toEqual([]);
    expect(issuesOf(submission({ metadata: { k: "v".repeat(257) } }))).toHaveLength(1);
  });

  it("tool arguments: at most 256 KiB as JSON", () => {
    const args = (bytes: number) => ({ sql: "x".repeat(bytes - '{"sql":""}'.length) });
    expect(issuesOf(submission({}, { steps: [step({ toolCalls: [{ tool: "sql_query", args: args(MAX_TOOL_ARGS_BYTES) }] })] }))).toEqual(
      [],
    );
    expect(
      issuesOf(submission({}, { steps: [step({ toolCalls: [{ tool: "sql_query", args: args(MAX_TOOL_ARGS_BYTES + 1) }] })] })),
    ).toEqual([`plan.steps.0.toolCalls.0.args: ${MAX_TOOL_ARGS_BYTES + 1} bytes as JSON; at most ${MAX_TOOL_ARGS_BYTES}`]);
  });

  it("ids: 1-128 characters; text: no control characters or unpaired surrogates", () => {
    expect(issuesOf(submission({ taskId: "x".repeat(128) }))).toEqual([]);
    expect(issuesOf(submission({ taskId: "x".repeat(129) }))).toHaveLength(1);
    expect(issuesOf(submission({}, { steps: [step({ id: "s".repeat(129) })] })).length).toBeGreaterThan(0);
    expect(issuesOf(submission({ goal: "tab\tnewline\nfine" }))).toEqual([]);
    for (const bad of ["nul\u0000", "bell\u0007", "del\u007f", "c1\u0085", "lone \ud800 surrogate", "\udc00"]) {
      expect(issuesOf(submission({ goal: bad })), JSON.stringify(bad)).toEqual([
        "goal: must not contain control characters (other than tab, line feed, carriage return) or unpaired surrogates",
      ]);
    }
    expect(issuesOf(submission({}, { steps: [step({ instruction: "x\u0000" })] }))).toHaveLength(1);
  });

  it("time: a step asks for no more than its task has, and stops at the task's deadline", () => {
    expect(issuesOf(submission({ timeoutMs: 5_000 }, { steps: [step({ timeoutMs: 5_000 })] }))).toEqual([]);
    expect(issuesOf(submission({ timeoutMs: 5_000 }, { steps: [step({ timeoutMs: 5_001 })] }))).toEqual([
      "plan.steps.0.timeoutMs: must not exceed the task's timeoutMs (5000 ms)",
    ]);
    expect(issuesOf(submission({}, { steps: [step({ timeoutMs: 3_600_001 })] }))).toHaveLength(1);
    const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
    expect(stepLimitMs({}, 60_000)).toBe(60_000);
    expect(stepLimitMs({ timeoutMs: 2_000, deadlineAt: inMs(600_000) }, 60_000)).toBe(2_000);
    const capped = stepLimitMs({ deadlineAt: inMs(10_000) }, 60_000);
    expect(capped).toBeGreaterThan(9_000);
    expect(capped).toBeLessThanOrEqual(10_000);
    expect(stepLimitMs({ timeoutMs: 2_000, deadlineAt: inMs(-5_000) }, 60_000)).toBe(1);
  });
});
