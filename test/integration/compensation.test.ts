import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { startStack, type TestStack } from "../support/services.ts";

// Saga compensation through the real services: a task fails after two steps with declared
// compensations completed; the compensations run in reverse order of completion, and the
// failure outcome lists them.
describe("saga compensation", () => {
  let stack: TestStack;
  let client: TestClient;

  beforeAll(async () => {
    stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent", "data-agent"] });
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("undoes completed steps in reverse order after a failure and lists the compensations in the outcome", async () => {
    const taskId = `saga-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "reserve, charge, ship",
      plan: {
        steps: [
          {
            id: "reserve",
            agent: "code",
            instruction: "reserve 42 units",
            toolCalls: [{ tool: "evaluate_expression", args: { expression: "40 + 2" } }],
            compensation: {
              tool: "evaluate_expression",
              args: { expression: "0 - units", scope: { units: { $fromStep: "reserve", path: "/result" } } },
            },
          },
          {
            id: "charge",
            agent: "code",
            instruction: "charge the card",
            dependsOn: ["reserve"],
            toolCalls: [{ tool: "evaluate_expression", args: { expression: "42 * 3" } }],
            compensation: { tool: "evaluate_expression", args: { expression: "-126" } },
          },
          {
            id: "ship",
            agent: "data",
            instruction: "ship (refused: a write)",
            dependsOn: ["charge"],
            toolCalls: [{ tool: "sql_query", args: { sql: "DELETE FROM cars" } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("ship");
    expect(outcome.value.compensations).toEqual([
      {
        stepId: "charge",
        agent: "code",
        status: "completed",
        output: { expression: "-126", result: -126, resultType: "number" },
        durationMs: expect.any(Number),
      },
      {
        stepId: "reserve",
        agent: "code",
        status: "completed",
        output: { expression: "0 - units", result: -42, resultType: "number" },
        durationMs: expect.any(Number),
      },
    ]);
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === "failed") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const types = events.map((e) => e.type);
    expect(types.indexOf("compensating")).toBeGreaterThan(types.lastIndexOf("step.failed"));
    expect(types.at(-1)).toBe("failed");
  });
});
