import { workConsumer } from "@baton/contracts";
import { natsServerAvailable } from "@baton/core";
import { nanos } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChaosClient, readDeadLetters } from "./support/observe.ts";
import { effectCall, sleepCall, step, submission } from "./support/plans.ts";
import { type ChaosStack, startChaosStack } from "./support/processes.ts";
import { analyzeRun, printCounts } from "./support/report.ts";

// Chaos (d) and (e) on one stack (2 effect-agent replicas, WORK_ACK_WAIT_MS=2000, default
// STEP_MAX_ATTEMPTS=3):
// (d) poison steps — one that always fails with a retryable error (retried, then reported as
//     failed after STEP_MAX_ATTEMPTS), and one that SIGKILLs every worker that takes it (never
//     acked, so after max_deliver (5) the server gives up on it and the supervisor's dead-letter
//     handler moves it to BATON_DLQ and fails the step with DEAD_LETTERED);
// (e) a step three times longer than ack_wait, kept alive by working() heartbeats: delivered once.

const ACK_WAIT_MS = 2_000;
const MAX_DELIVER = workConsumer("chaos").maxDeliver;

describe.skipIf(!natsServerAvailable())("chaos (d, e): poison steps and steps slower than ack_wait", () => {
  let stack: ChaosStack;
  let client: ChaosClient;
  const allTasks: string[] = [];

  beforeAll(async () => {
    stack = await startChaosStack({ agents: 2, env: { WORK_ACK_WAIT_MS: String(ACK_WAIT_MS) } });
    client = await ChaosClient.open(stack.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  const startsOf = (events: { type: string; taskId: string; stepId?: string }[], taskId: string, stepId: string, type = "step.started") =>
    events.filter((e) => e.type === type && e.taskId === taskId && e.stepId === stepId).length;

  it("(d) retries a step that always fails, then fails the task naming the step", async () => {
    const taskId = "chaos-d-poison";
    allTasks.push(taskId);
    const startedAt = Date.now();
    await client.submit(
      submission(taskId, {
        failurePolicy: "fail-fast",
        steps: [
          step("prepare", [sleepCall(100)]),
          step("poison", [{ tool: "always_fail", args: {} }], ["prepare"]),
          step("after", [effectCall("after")], ["poison"]),
        ],
      }),
    );
    const missing = await client.waitForOutcomes([taskId], 60_000);
    const report = await analyzeRun({
      scenario: "(d) poison step (always fails, retryable)",
      client,
      stack,
      taskIds: [taskId],
      kills: [],
      startedAt,
      missing,
      allowFailure: (f) => (f.failedStep === "poison" && f.code === "TOOL_FAILED" ? "the poison step" : undefined),
    });
    const deadLetters = (await readDeadLetters(client)).filter((d) => d.taskId === taskId);
    printCounts(
      report.counts,
      {
        "poison step deliveries (step.started)": startsOf(report.events, taskId, "poison"),
        "poison step.retrying events": startsOf(report.events, taskId, "poison", "step.retrying"),
        "poison step in BATON_DLQ": deadLetters.length,
      },
      [...report.knownBugs, ...report.notes],
    );
    expect(report.violations).toEqual([]);
    const outcome = report.outcomes.get(taskId);
    expect(outcome?.status).toBe("failed");
    if (outcome?.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("poison");
    expect(outcome.value.error.code).toBe("STEP_FAILED");
    expect(outcome.value.error.message).toContain("TOOL_FAILED");
    expect(outcome.value.error.message).toContain("poison");
    // STEP_MAX_ATTEMPTS (3) deliveries, the first two sent back with step.retrying and a nak;
    // the third is reported as the step's failure (STEP_MAX_ATTEMPTS < max_deliver: no dead letter).
    expect(startsOf(report.events, taskId, "poison")).toBe(3);
    expect(startsOf(report.events, taskId, "poison", "step.retrying")).toBe(2);
    expect(deadLetters).toEqual([]);
    // The step after it never ran, so its effect never happened.
    expect(startsOf(report.events, taskId, "after")).toBe(0);
    expect(report.effects.get(`${taskId} after`)).toBeUndefined();
    expect(outcome.value.steps.find((s) => s.stepId === "after")?.status).toBe("skipped");
  });

  it("(e) keeps a step three times longer than ack_wait alive with heartbeats: one delivery", async () => {
    const info = await client.jsm.consumers.info("BATON_WORK", workConsumer("chaos").durable);
    expect(info.config.ack_wait).toBe(nanos(ACK_WAIT_MS));
    const taskIds = ["chaos-e-slow-1", "chaos-e-slow-2"];
    allTasks.push(...taskIds);
    const startedAt = Date.now();
    for (const taskId of taskIds) {
      await client.submit(
        submission(taskId, {
          failurePolicy: "fail-fast",
          steps: [step("slow", [sleepCall(3 * ACK_WAIT_MS)]), step("effect", [effectCall("after-slow")], ["slow"])],
        }),
      );
    }
    const missing = await client.waitForOutcomes(taskIds, 60_000);
    const report = await analyzeRun({ scenario: "(e) step slower than ack_wait", client, stack, taskIds, kills: [], startedAt, missing });
    printCounts(
      report.counts,
      {
        "slow step ms / ack_wait ms": `${3 * ACK_WAIT_MS} / ${ACK_WAIT_MS}`,
        "slow step deliveries": taskIds.map((t) => startsOf(report.events, t, "slow")).join(", "),
      },
      [...report.knownBugs, ...report.notes],
    );
    expect(report.violations).toEqual([]);
    for (const taskId of taskIds) {
      const outcome = report.outcomes.get(taskId);
      expect(outcome?.status).toBe("completed");
      const slow = outcome?.value.steps.find((s) => s.stepId === "slow");
      expect(slow?.durationMs ?? 0).toBeGreaterThanOrEqual(3 * ACK_WAIT_MS);
      expect(startsOf(report.events, taskId, "slow"), `${taskId} slow deliveries`).toBe(1);
      expect(startsOf(report.events, taskId, "effect"), `${taskId} effect deliveries`).toBe(1);
      expect(report.effects.get(`${taskId} effect`), `${taskId} effect runs`).toHaveLength(1);
    }
    expect(report.counts.redeliveries).toBe(0);
    expect(report.counts.retries).toBe(0);
    expect(report.counts.replayedEffects).toBe(0);
  });

  it("(d) dead-letters a step that kills every worker taking it, after max_deliver", async () => {
    const taskId = "chaos-d-pill";
    allTasks.push(taskId);
    const startedAt = Date.now();
    await client.submit(
      submission(taskId, {
        failurePolicy: "fail-fast",
        steps: [step("charge", [effectCall("charge")]), step("pill", [{ tool: "crash_worker", args: {} }], ["charge"])],
      }),
    );
    // MAX_DELIVER deliveries, each followed by ack_wait and a restart of the killed replica.
    const missing = await client.waitForOutcomes([taskId], 90_000);
    await Promise.all(stack.agents.map((a) => a.settled()));
    const crashes = stack.agents.reduce((sum, a) => sum + a.crashes.length, 0);
    const report = await analyzeRun({
      scenario: "(d) poison pill (kills its worker)",
      client,
      stack,
      taskIds: [taskId],
      kills: [],
      startedAt,
      missing,
      expectedCrashes: MAX_DELIVER,
      allowFailure: (f) => (f.failedStep === "pill" && f.code === "DEAD_LETTERED" ? "the poison pill" : undefined),
    });
    const deadLetters = (await readDeadLetters(client)).filter((d) => d.taskId === taskId);
    printCounts(
      report.counts,
      {
        "pill deliveries (step.started)": startsOf(report.events, taskId, "pill"),
        "worker processes killed by the pill": crashes,
        "pill in BATON_DLQ": deadLetters.map((d) => `${d.stream}/${d.consumer} #${d.streamSeq} → ${d.subject}`).join(", ") || "no",
      },
      [...report.knownBugs, ...report.notes],
    );
    expect(report.violations).toEqual([]);
    const outcome = report.outcomes.get(taskId);
    expect(outcome?.status).toBe("failed");
    if (outcome?.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("pill");
    expect(outcome.value.error.message).toContain("DEAD_LETTERED");
    expect(crashes).toBe(MAX_DELIVER);
    expect(startsOf(report.events, taskId, "pill")).toBe(MAX_DELIVER);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({
      stream: "BATON_WORK",
      consumer: "chaos-agent",
      subject: `work.chaos.${taskId}.pill`,
      stepId: "pill",
      deliveries: MAX_DELIVER,
    });
    // The effect before the pill ran exactly once.
    expect(report.effects.get(`${taskId} charge`)).toHaveLength(1);
  });
});
