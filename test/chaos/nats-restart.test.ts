import { natsServerAvailable, sleep } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kill } from "./support/killer.ts";
import { ChaosClient } from "./support/observe.ts";
import { chaosTasks, randomInt, submission, WORKLOAD_EFFECT_STEPS, workloadPlan } from "./support/plans.ts";
import { type ChaosStack, startChaosStack } from "./support/processes.ts";
import { analyzeRun, printCounts } from "./support/report.ts";

// Chaos (c): nats-server itself SIGKILLed twice mid-run and restarted on the same port with the
// same store folder (file storage keeps the streams, KV buckets and consumers). The services
// reconnect on their own (they retry forever) and every task must still finish exactly once.

/** How long the server stays down each time. */
const DOWN_MS = 1_500;

describe.skipIf(!natsServerAvailable())("chaos (c): nats-server SIGKILLed and restarted mid-run", () => {
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

  it("reconnects every service and finishes every task exactly once", async () => {
    const n = Math.max(10, Math.round(chaosTasks() / 2));
    const taskIds = Array.from({ length: n }, (_, i) => `chaos-c-${i}`);
    const startedAt = Date.now();
    const kills: Kill[] = [];
    let submitted = 0;
    // The server dies once about a third of the tasks are in, and again at three quarters.
    const chaos = (async () => {
      for (const share of [0.35, 0.75]) {
        while (submitted < Math.ceil(share * n)) await sleep(50);
        const pid = stack.nats.process.pid ?? -1;
        await stack.killNats();
        kills.push({ label: "nats-server", pid, instance: undefined, atMs: Date.now() - startedAt });
        await sleep(DOWN_MS);
        await stack.restartNats();
      }
    })();
    for (const taskId of taskIds) {
      // Retried until the restarted server acks it.
      await client.submit(submission(taskId, workloadPlan()));
      submitted++;
      await sleep(randomInt(250, 650));
    }
    await chaos;
    const missing = await client.waitForOutcomes(taskIds, 150_000);
    const report = await analyzeRun({
      scenario: "(c) nats-server SIGKILLed and restarted",
      client,
      stack,
      taskIds,
      kills,
      startedAt,
      missing,
      // Outcomes published while this client was reconnecting may not reach its core
      // subscription; BATON_OUTCOMES is checked for every task instead.
      coreMayMiss: true,
    });
    const reconnected = stack.services.filter((s) => s.allLogs().some((l) => l.nats === "reconnect")).map((s) => s.label);
    printCounts(report.counts, { "services that logged a reconnect": `${reconnected.length}/${stack.services.length}` }, [
      ...report.knownBugs,
      ...report.notes,
    ]);
    expect(report.violations).toEqual([]);
    expect(reconnected).toHaveLength(stack.services.length);
    expect(report.counts.completed).toBe(n);
    for (const taskId of taskIds) {
      for (const stepId of WORKLOAD_EFFECT_STEPS) expect(report.effects.get(`${taskId} ${stepId}`), `${taskId} ${stepId}`).toHaveLength(1);
    }
  });
});
