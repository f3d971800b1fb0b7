import { natsServerAvailable, sleep } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startClaimSniper, startKiller } from "./support/killer.ts";
import { ChaosClient } from "./support/observe.ts";
import { chaosTasks, randomInt, submission, WORKLOAD_EFFECT_STEPS, workloadPlan } from "./support/plans.ts";
import { type ChaosStack, startChaosStack } from "./support/processes.ts";
import { allowEffectInDoubt, analyzeRun, printCounts } from "./support/report.ts";

// Chaos (a): a stream of tasks, each with two non-idempotent effects, while a killer SIGKILLs a
// random replica of the effect agent (3 replicas × WORKER_CONCURRENCY 2) every 2–4 s and
// restarts it. Every task must reach exactly one outcome and no effect may run twice. Tasks
// fail only with EFFECT_IN_DOUBT (or DEAD_LETTERED while waiting on such a claim) when a kill
// landed between an effect's claim and its record — which the random killer rarely hits, so
// for the first tasks a sniper kills the claiming replica the moment its claim is stored.

describe.skipIf(!natsServerAvailable())("chaos (a): worker replicas SIGKILLed under a stream of tasks", () => {
  let stack: ChaosStack;
  let client: ChaosClient;

  beforeAll(async () => {
    stack = await startChaosStack({ agents: 3 });
    client = await ChaosClient.open(stack.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("completes every task exactly once and runs no effect twice", async () => {
    const n = chaosTasks();
    const taskIds = Array.from({ length: n }, (_, i) => `chaos-a-${i}`);
    const startedAt = Date.now();
    // Early tasks, so their 30 s in-doubt wait overlaps the rest of the run.
    const sniper = startClaimSniper(client, stack.agents, new Set([2, 5, 8, 11].flatMap((i) => taskIds[i] ?? [])), startedAt);
    const killer = startKiller({ targets: stack.agents, intervalMs: [2_000, 4_000], startedAt });
    for (const taskId of taskIds) {
      await client.submit(submission(taskId, workloadPlan()));
      await sleep(randomInt(250, 650));
    }
    // Keep killing while tasks finish, for at most 15 s after the last submission.
    const stillRunning = await client.waitForOutcomes(taskIds, 15_000);
    const kills = [...(await killer.stop()), ...(await sniper.stop())];
    // A step whose effect was claimed by a killed process waits 30 s before EFFECT_IN_DOUBT.
    const missing = stillRunning.length > 0 ? await client.waitForOutcomes(taskIds, 120_000) : [];
    const killedInstances = new Set(kills.flatMap((k) => (k.instance ? [k.instance] : [])));
    const report = await analyzeRun({
      scenario: "(a) worker replicas SIGKILLed",
      client,
      stack,
      taskIds,
      kills,
      startedAt,
      missing,
      allowFailure: allowEffectInDoubt(killedInstances),
    });
    const abandoned = report.claims.filter((c) => c.state === "started" && !killedInstances.has(c.owner));
    for (const c of abandoned)
      report.violations.push(`effect claim of ${c.taskId} ${c.stepId} left in doubt by ${c.owner}, which was not killed`);
    for (const failure of killer.restartFailures) report.violations.push(`restart failed: ${failure}`);
    printCounts(
      report.counts,
      {
        "effects expected (2 per completed task)": report.counts.completed * WORKLOAD_EFFECT_STEPS.length,
        "kills timed to an effect claim": sniper.kills.length,
        "failures from kills between claim and record": report.failures.length,
      },
      [...report.knownBugs, ...report.notes],
    );
    expect(report.violations).toEqual([]);
    expect(kills.length).toBeGreaterThan(0);
    // Every completed task ran each of its effects exactly once.
    for (const [taskId, outcome] of report.outcomes) {
      if (outcome.status !== "completed") continue;
      for (const stepId of WORKLOAD_EFFECT_STEPS) expect(report.effects.get(`${taskId} ${stepId}`), `${taskId} ${stepId}`).toHaveLength(1);
    }
  });
});
