import { collectStepRefs, jsonPointerGet, Plan, resolveStepRefs, TaskSubmission, UnresolvedReferenceError } from "@baton/contracts";
import { describe, expect, it } from "vitest";

const step = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  agent: "data",
  instruction: "do",
  toolCalls: [{ tool: "sql_query", args: { sql: "select 1" } }],
  ...extra,
});

function issues(plan: unknown) {
  const r = Plan.safeParse(plan);
  return r.success ? [] : r.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

describe("Plan validation", () => {
  it("accepts a DAG and fills defaults", () => {
    const plan = Plan.parse({ steps: [step("a"), step("b", { dependsOn: ["a"] })] });
    expect(plan.failurePolicy).toBe("fail-fast");
    expect(plan.steps[0]?.dependsOn).toEqual([]);
  });

  it("rejects duplicate ids at the duplicate's path", () => {
    expect(issues({ steps: [step("a"), step("a")] })).toEqual([{ path: "steps.1.id", message: 'duplicate step id "a"' }]);
  });

  it("rejects unknown dependencies and self-dependencies", () => {
    expect(issues({ steps: [step("a", { dependsOn: ["nope", "a"] })] })).toEqual([
      { path: "steps.0.dependsOn.0", message: 'unknown step "nope"' },
      { path: "steps.0.dependsOn.1", message: 'step "a" depends on itself' },
    ]);
  });

  it("rejects cycles and spells the cycle out", () => {
    const found = issues({ steps: [step("a", { dependsOn: ["b"] }), step("b", { dependsOn: ["a"] }), step("c")] });
    expect(found).toHaveLength(1);
    expect(found[0]?.message).toBe("dependency cycle: a -> b -> a");
  });

  it("takes any agent name of the right form (registration is checked by the supervisor), and names a malformed one", () => {
    expect(issues({ steps: [step("a", { agent: "finance" })] })).toEqual([]);
    const found = issues({ steps: [step("a", { agent: "Finance Dept" })] });
    expect(found[0]?.path).toBe("steps.0.agent");
    expect(found[0]?.message).toContain("lower-case letter");
  });

  it("rejects ids that are not subject tokens, and unknown keys", () => {
    expect(issues({ steps: [step("a.b")] })[0]?.path).toBe("steps.0.id");
    expect(issues({ steps: [step("a", { extra: 1 })] })[0]?.path).toBe("steps.0");
  });

  it("accepts references to ancestors and rejects references to other steps", () => {
    const ref = (from: string) => ({ tool: "sql_query", args: { sql: { $fromStep: from, path: "/sql" } } });
    expect(issues({ steps: [step("a"), step("b", { dependsOn: ["a"] }), step("c", { dependsOn: ["b"], toolCalls: [ref("a")] })] })).toEqual(
      [],
    );
    expect(issues({ steps: [step("a"), step("b", { toolCalls: [ref("a")] })] })).toEqual([
      { path: "steps.1.toolCalls.0.args.sql", message: '"$fromStep": "a" is not a dependency (direct or indirect) of step "b"' },
    ]);
  });

  it("bounds plan size", () => {
    expect(issues({ steps: [] })[0]?.path).toBe("steps");
    expect(issues({ steps: Array.from({ length: 65 }, (_, i) => step(`s${i}`)) })[0]?.path).toBe("steps");
  });
});

describe("step references", () => {
  it("collects references with their paths", () => {
    const refs = collectStepRefs({ a: [1, { $fromStep: "x", path: "/rows/0" }], b: { c: { $fromStep: "y" } } });
    expect(refs.map((r) => [r.ref.$fromStep, r.path.join(".")])).toEqual([
      ["x", "a.1"],
      ["y", "b.c"],
    ]);
  });

  it("resolves JSON Pointers into outputs, including escaped tokens", () => {
    const outputs = { x: { rows: [{ "a/b": 7, "m~n": 8 }] } };
    expect(resolveStepRefs({ v: { $fromStep: "x", path: "/rows/0/a~1b" } }, outputs)).toEqual({ v: 7 });
    expect(jsonPointerGet(outputs.x, "/rows/0/m~0n")).toBe(8);
    expect(resolveStepRefs({ $fromStep: "x" }, outputs)).toEqual(outputs.x);
  });

  it("throws UnresolvedReferenceError for a missing step or pointer", () => {
    expect(() => resolveStepRefs({ $fromStep: "nope" }, {})).toThrow(UnresolvedReferenceError);
    expect(() => resolveStepRefs({ $fromStep: "x", path: "/rows/5" }, { x: { rows: [] } })).toThrow(/does not match/);
  });
});

describe("TaskSubmission", () => {
  it("defaults the schema version and trims the goal", () => {
    const s = TaskSubmission.parse({ goal: "  hi  " });
    expect(s).toEqual({ schemaVersion: 1, goal: "hi" });
  });

  it("refuses an unsupported schema version", () => {
    expect(TaskSubmission.safeParse({ goal: "x", schemaVersion: 2 }).success).toBe(false);
  });
});
