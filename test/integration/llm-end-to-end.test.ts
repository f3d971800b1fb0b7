import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { BudgetLedgers } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { type ScriptedLlmServer, startScriptedLlmServer } from "../support/scripted-llm-server.ts";
import { ROOT, startStack, type TestStack } from "../support/services.ts";

const GOAL = "How warm do Seattle summers get, and how do I stream the dataset's CSV in Node?";

// The LLM path end to end with no network: the five services as real processes use the real
// Anthropic SDK, pointed by ANTHROPIC_BASE_URL at a local server that speaks the Messages API
// and replays test/fixtures/llm/seattle-goal.json.
describe("LLM agents end to end: planner, tool-calling workers, synthesis, budgets", () => {
  let llm: ScriptedLlmServer;
  let stack: TestStack;
  let client: TestClient;

  beforeAll(async () => {
    llm = await startScriptedLlmServer({ fixture: "seattle-goal" });
    stack = await startStack({ env: { ANTHROPIC_API_KEY: "test-key", ANTHROPIC_BASE_URL: llm.anthropicBaseURL } });
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await llm?.close();
  });

  it("plans a three-agent DAG from a goal (repairing an invalid plan), runs the agents' tool loops and synthesizes with citations", async () => {
    const taskId = `goal-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({ taskId, goal: GOAL });
    const outcome = await client.outcome(taskId, 90_000);
    expect(llm.unmatched.map((r) => r.summary)).toEqual([]);
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    const { value } = outcome;

    // The planner's first plan named an unknown dependency; the errors went back and the repair was accepted.
    const planner = llm.requests.filter((r) => r.summary.system.includes("You are the planner of Baton"));
    expect(planner.map((r) => r.rule)).toEqual(["planner: first plan has an unknown dependency", "planner: repaired plan"]);
    expect(planner[1]?.summary.lastUser).toContain('unknown step "ghost_step"');
    const planned = events.find((e) => e.type === "planned");
    expect(planned).toMatchObject({ source: "llm" });
    expect(value.steps.map((s) => [s.stepId, s.agent, s.status])).toEqual([
      ["summer_highs", "data", "completed"],
      ["csv_reading", "research", "completed"],
      ["summer_in_f", "code", "completed"],
    ]);

    // The data agent ran real SQL through DuckDB, chosen by the model.
    const data = value.steps[0];
    expect(data?.toolCalls.map((c) => c.tool)).toEqual(["sql_query"]);
    expect((data?.output as { answer: string } | undefined)?.answer).toContain("July 26.0 °C");
    // The code agent: a call with invalid arguments, corrected, then two calls in one turn.
    const code = value.steps[2];
    expect(code?.toolCalls.map((c) => [c.tool, c.ok])).toEqual([
      ["evaluate_expression", false],
      ["evaluate_expression", true],
      ["evaluate_expression", true],
    ]);
    const codeRound2 = llm.requests.find((r) => r.rule === "code: corrected, two calls in parallel");
    expect(codeRound2?.summary.lastUser).toContain("INVALID_ARGUMENTS");
    expect(codeRound2?.summary.lastUser).toContain("args.expression");
    // Tool outputs reach the model fenced as untrusted data.
    const dataRound2 = llm.requests.find((r) => r.rule === "data: answer");
    expect(dataRound2?.summary.lastUser).toMatch(/<tool_output nonce="[0-9a-f]{16}" tool="sql_query"/);
    // Prompt caching: cache_control on the system prompt.
    expect(JSON.stringify(dataRound2?.body.system)).toContain('"cache_control":{"type":"ephemeral"}');

    // The synthesizer's answer cites the steps.
    expect(value.answer).toContain("[summer_highs]");
    expect(value.answer).toContain("[csv_reading]");
    expect(value.answer).toContain("| summer_in_f | code | summer_highs | completed |");

    // Usage and cost: every call's tokens are counted once, and priced.
    const scripted = llm.requests.filter((r) => r.rule !== undefined && !r.rule.startsWith("budget"));
    const inputTokens = scripted.reduce((s, r) => s + tokensOf(r.rule, "input_tokens"), 0);
    const outputTokens = scripted.reduce((s, r) => s + tokensOf(r.rule, "output_tokens"), 0);
    expect(value.usage.inputTokens).toBe(inputTokens);
    expect(value.usage.outputTokens).toBe(outputTokens);
    expect(value.usage.costUsd).toBeGreaterThan(0);
    expect(value.steps[0]?.usage.inputTokens).toBe(800);
    const done = await waitFor(() => events.find((e) => e.type === "completed"));
    expect(done).toMatchObject({ usage: { inputTokens } });
  });

  it("fails a task over its token budget across two workers with BUDGET_EXCEEDED, keeping partial results", async () => {
    const taskId = `budget-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "budget-test",
      budget: { maxTokens: 500 },
      plan: {
        failurePolicy: "continue",
        steps: [
          { id: "cars", agent: "data", instruction: "budget-test: count cars by origin" },
          { id: "streams", agent: "research", instruction: "budget-test: find stream backpressure docs" },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.error.code).toBe("BUDGET_EXCEEDED");
    expect(llm.unmatched).toEqual([]);
    // Both workers' first calls (440 tokens each) went into the one shared ledger, and after
    // them every further call was refused. The interleaving decides the rest: one worker may
    // get its second call in first (its answer completes its step), and the supervisor may fail
    // the task — dispatching nothing more — before the other step reports (it shows as skipped).
    const budgetCalls = () => llm.requests.filter((r) => r.rule?.startsWith("budget"));
    await waitFor(() => (budgetCalls().filter((r) => r.summary.toolResultsCount === 0).length === 2 ? true : undefined));
    expect(budgetCalls().length).toBeLessThanOrEqual(3);
    for (const step of outcome.value.steps) {
      expect(["completed", "skipped", "failed"]).toContain(step.status);
      if (step.status === "failed") {
        expect(step.error?.code).toBe("BUDGET_EXCEEDED");
        expect(step.toolCalls).toHaveLength(1); // the tool call it had made is kept
      }
    }
    const ledgers = await BudgetLedgers.open(client.nc);
    const spent = await waitFor(async () => {
      const used = (await ledgers.get(taskId))?.ledger.used;
      return used && used.inputTokens + used.outputTokens === 440 * budgetCalls().length ? used : undefined;
    });
    expect(spent?.llmCalls).toBe(budgetCalls().length);
    expect((await ledgers.get(taskId))?.ledger.exceeded).toMatch(/tokens used of 500/);
  });

  it('runs `baton run "<goal>"` from the CLI against the same services', async () => {
    // Asynchronous: the scripted LLM server lives in this process and must keep answering.
    const creds = (await stack.credentials({ kind: "client" })) ?? "";
    const run = await promisify(execFile)(
      process.execPath,
      [join(ROOT, "cli", "src", "main.ts"), "run", "--nats", stack.nats.url, "--creds", creds, GOAL],
      {
        encoding: "utf8",
        timeout: 90_000,
      },
    );
    expect(run.stdout).toContain("[summer_in_f]");
    expect(run.stdout).toMatch(/planned +3 steps \(llm\)/);
    expect(run.stderr).not.toContain("Error:");
  });
});

function tokensOf(rule: string | undefined, field: "input_tokens" | "output_tokens"): number {
  const fixture = FIXTURE_USAGE.get(rule ?? "");
  return fixture?.[field] ?? 0;
}

const FIXTURE_USAGE = new Map<string, { input_tokens: number; output_tokens: number }>(
  (
    (await import("../fixtures/llm/seattle-goal.json", { with: { type: "json" } })).default as {
      rules: { name: string; respond: { body: { usage: { input_tokens: number; output_tokens: number } } } }[];
    }
  ).rules.map((r) => [r.name, r.respond.body.usage]),
);

async function waitFor<T>(find: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}
