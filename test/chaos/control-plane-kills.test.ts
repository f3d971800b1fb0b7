import { natsServerAvailable, sleep } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startKiller } from "./support/killer.ts";
import { ChaosClient } from "./support/observe.ts";
import { chaosTasks, randomInt, submission, WORKLOAD_EFFECT_STEPS, workloadPlan } from "./support/plans.ts";
import { type ChaosStack, startChaosStack } from "./support/processes.ts";
import { analyzeRun, printCounts } from "./support/report.ts";

// Chaos (b): the supervisor and the synthesizer SIGKILLed (alternately, every 2–4 s) and
// restarted while tasks flow. Their messages come back after their consumers' ack_wait (30 s for
// submissions and results, 60 s for synthesis requests), so a task may be slow — but it must
// still reach exactly one outcome, and the workers' effects must not repeat.

describe.skipIf(!natsServerAvailable())("chaos (b): supervisor and synthesizer SIGKILLed mid-run", () => {
  let stack: ChaosStack;
  let client: ChaosClient;

  beforeAll(async () => {
    stack = await startChaosStack({ agents: 2 });
    client = await ChaosClient.open(stack.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("finishes every task with exactly one outcome", async () => {
    const n = Math.max(10, Math.round(chaosTasks() / 2));
    const taskIds = Array.from({ length: n }, (_, i) => `chaos-b-${i}`);
    const startedAt = Date.now();
    const order = [stack.supervisor, stack.synthesizer];
    const killer = startKiller({
      targets: order,
      intervalMs: [2_000, 4_000],
      pick: (up, round) => up.find((s) => s === order[round % order.length]) ?? up[0],
    });
    for (const taskId of taskIds) {
      await client.submit(submission(taskId, workloadPlan()));
      await sleep(randomInt(250, 750));
    }
    const stillRunning = await client.waitForOutcomes(taskIds, 8_000);
    const kills = await killer.stop();
    // Messages a killed supervisor or synthesizer held come back after 30 s / 60 s.
    const missing = stillRunning.length > 0 ? await client.waitForOutcomes(taskIds, 150_000) : [];
    const report = await analyzeRun({ scenario: "(b) supervisor + synthesizer SIGKILLed", client, stack, taskIds, kills, startedAt, missing });
    for (const failure of killer.restartFailures) report.violations.push(`restart failed: ${failure}`);
    printCounts(report.counts, {
      "supervisor kills": kills.filter((k) => k.label === "supervisor").length,
      "synthesizer kills": kills.filter((k) => k.label === "synthesizer").length,
      "redelivered results replayed (supervisor log)": stack.supervisor
        .allLogs()
        .filter((l) => l.msg === "redelivered result: replaying pending effects").length,
      "redelivered submissions replayed (supervisor log)": stack.supervisor
        .allLogs()
        .filter((l) => l.msg === "redelivered submission: replaying pending effects").length,
    });
    expect(report.violations).toEqual([]);
    expect(kills.some((k) => k.label === "supervisor")).toBe(true);
    expect(kills.some((k) => k.label === "synthesizer")).toBe(true);
    expect(report.counts.completed).toBe(n);
    for (const taskId of taskIds) {
      for (const stepId of WORKLOAD_EFFECT_STEPS) expect(report.effects.get(`${taskId} ${stepId}`), `${taskId} ${stepId}`).toHaveLength(1);
    }
  });
});
