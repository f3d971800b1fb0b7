import { createServer } from "node:net";
import { DLQ_STREAM } from "@baton/contracts";
import { natsServerAvailable } from "@baton/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, examplePlan, type TestClient } from "../support/client.ts";
import { startStack, type TestStack } from "../support/services.ts";

const quick = (id = "a", extra: Record<string, unknown> = {}) => ({
  id,
  agent: "code",
  instruction: "add",
  toolCalls: [{ tool: "evaluate_expression", args: { expression: "1+1" } }],
  ...extra,
});

/** A TCP port nothing listens on: an LLM endpoint that refuses every connection. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

// The probes of issue 9 that found a submission answered late, or not at all, kept as regression
// tests with real processes: input nested 10,000 levels deep, prototype names as ids, the same
// taskId with another body, and an LLM configured but unreachable.
describe.skipIf(!natsServerAvailable())("hostile input is answered at once", () => {
  let stack: TestStack;
  let client: TestClient;

  beforeAll(async () => {
    stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent"] });
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("rejects arguments nested 10,000 levels deep with VALIDATION_FAILED and the path, within a second, leaving no dead letter", async () => {
    const deep = `${'{"x":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const body = `{"taskId":"deep-args","goal":"deep","plan":{"steps":[{"id":"a","agent":"code","instruction":"x","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1","scope":${deep}}}]}]}}`;
    const started = Date.now();
    await client.submitRaw(body);
    const r = await client.waitForRejection((x) => x.taskId === "deep-args", 5_000);
    const ms = Date.now() - started;
    console.log(`deep args rejected in ${ms} ms`);
    expect(ms).toBeLessThan(1_000);
    expect(r.error.code).toBe("VALIDATION_FAILED");
    expect(r.error.issues?.[0]?.path).toMatch(/^plan\.steps\.0\.toolCalls\.0\.args\.scope(\.x)+$/);
    expect(r.error.issues?.[0]?.message).toBe("nested more than 64 levels deep");
    const jsm = await jetstreamManager(client.nc);
    expect((await jsm.streams.info(DLQ_STREAM.name)).state.messages).toBe(0);
  });

  it("rejects every prototype name as a step id, dependency, reference, task id and metadata key, at once", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["proto-step", { plan: { steps: [quick("__proto__")] } }, "plan.steps.0.id"],
      ["ctor-step", { plan: { steps: [quick("constructor")] } }, "plan.steps.0.id"],
      ["tostring-dep", { plan: { steps: [quick("a"), quick("b", { dependsOn: ["toString"] })] } }, "plan.steps.1.dependsOn.0"],
      [
        "proto-ref",
        {
          plan: {
            steps: [
              quick("a"),
              quick("b", {
                dependsOn: ["a"],
                toolCalls: [{ tool: "evaluate_expression", args: { expression: { $fromStep: "hasOwnProperty" } } }],
              }),
            ],
          },
        },
        "plan.steps.1.toolCalls.0.args.expression",
      ],
      [
        "proto-meta",
        { metadata: JSON.parse('{"__proto__":"x"}') as Record<string, string>, plan: { steps: [quick()] } },
        "metadata.__proto__",
      ],
    ];
    for (const [taskId, extra] of cases) await client.submitRaw(JSON.stringify({ taskId, goal: "g", ...extra }));
    await client.submitRaw(JSON.stringify({ taskId: "valueOf", goal: "g", plan: { steps: [quick()] } }));
    for (const [taskId, , path] of cases) {
      const r = await client.waitForRejection((x) => x.taskId === taskId, 5_000);
      expect(r.error.code, taskId).toBe("VALIDATION_FAILED");
      expect(
        r.error.issues?.map((i) => i.path),
        taskId,
      ).toContain(path);
    }
    const r = await client.waitForRejection((x) => x.taskId === "valueOf", 5_000);
    expect(r.error.issues?.[0]).toEqual({
      path: "taskId",
      message: "is a reserved name (a property every JavaScript object has): choose another",
    });
  });

  it("answers the same taskId again: the same body with the task's status, another body with TASK_ID_CONFLICT", async () => {
    const taskId = `resubmit-${Date.now()}`;
    const submission = { taskId, goal: "add", plan: { steps: [quick()] } };
    const events = client.watch(taskId);
    await client.submit(submission);
    expect((await client.outcome(taskId, 30_000)).status).toBe("completed");
    await client.submit(submission);
    await client.submit({ ...submission, goal: "something else" });
    const conflict = await client.waitForRejection((x) => x.taskId === taskId, 5_000);
    expect(conflict.error.code).toBe("TASK_ID_CONFLICT");
    expect(conflict.error.message).toContain("for a different submission");
    for (let i = 0; i < 40 && !events.some((e) => e.type === "resubmitted"); i++) await new Promise((r) => setTimeout(r, 50));
    // The outcome is out; the task's state says completed an instant later.
    const resubmitted = events.find((e) => e.type === "resubmitted");
    expect(resubmitted?.type === "resubmitted" ? ["synthesizing", "completed"] : []).toContain(
      resubmitted?.type === "resubmitted" ? resubmitted.status : undefined,
    );
    expect(events.filter((e) => e.type === "accepted")).toHaveLength(1);
  });
});

describe.skipIf(!natsServerAvailable())("an LLM configured but unreachable", () => {
  let stack: TestStack;
  let client: TestClient;

  beforeAll(async () => {
    const port = await closedPort();
    stack = await startStack({
      services: ["supervisor", "synthesizer", "data-agent", "code-agent", "research-agent"],
      env: { ANTHROPIC_API_KEY: "test-key", ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, LLM_MAX_RETRIES: "1" },
    });
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("completes a task with an explicit plan with the report of its steps, saying why the model did not write it", async () => {
    const taskId = `no-llm-plan-${Date.now()}`;
    const started = Date.now();
    await client.submit({ taskId, ...examplePlan() });
    const outcome = await client.outcome(taskId, 60_000);
    console.log(`explicit plan with an unreachable LLM: ${outcome.status} in ${Date.now() - started} ms`);
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    expect(outcome.value.answer).toContain("could not be written by the LLM (LLM_UNAVAILABLE");
    expect(outcome.value.answer).toContain("monthly_climate");
  });

  it("fails a goal-only task with LLM_UNAVAILABLE and the provider's error, announced once, within seconds", async () => {
    const taskId = `no-llm-goal-${Date.now()}`;
    const events = client.watch(taskId);
    const started = Date.now();
    await client.submit({ taskId, goal: "How warm do Seattle summers get?" });
    const outcome = await client.outcome(taskId, 60_000);
    const ms = Date.now() - started;
    console.log(`goal with an unreachable LLM: ${outcome.status} in ${ms} ms`);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.error.code).toBe("LLM_UNAVAILABLE");
    expect(outcome.value.error.message).toMatch(/^the LLM planner could not be reached: anthropic: connection failed/);
    expect(ms).toBeLessThan(15_000);
    expect(events.filter((e) => e.type === "accepted")).toHaveLength(1);
    const jsm = await jetstreamManager(client.nc);
    expect((await jsm.streams.info(DLQ_STREAM.name)).state.messages).toBe(0);
  });
});
