import { natsServerAvailable, sleep } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kill } from "./support/killer.ts";
import { ChaosClient } from "./support/observe.ts";
import { chaosNatsRestarts, randomInt, submission, WORKLOAD_EFFECT_STEPS, workloadPlan } from "./support/plans.ts";
import { type ChaosStack, startChaosStack } from "./support/processes.ts";
import { analyzeRun, leftoverMessages, printCounts, slowestTasks, waitForNoLeftovers } from "./support/report.ts";

// Chaos (f): nats-server SIGKILLed and restarted over and over (CHAOS_NATS_RESTARTS times,
// default 8 — the CI size; 50 for the full run) while a steady stream of tasks runs. Each kill
// lands at a random moment, so requests are in flight when the server dies — KV reads and
// compare-and-set writes, publishes, pulls, acks, `working()` heartbeats, watches — and every
// fifth outage lasts longer than the client's 5 s request timeout and starts the moment a task
// starts synthesizing, so the synthesizer's requests time out across the restart. No service
// process may exit (an unhandled rejection would end it; a handled one must not even be logged
// as unhandled), every task must reach exactly one outcome, no event may follow a task's
// terminal one, no task may take as long as the synthesizer consumer's 60 s ack_wait (what a
// nak or ack dropped during the outage used to cost), and once every task has its outcome
// neither BATON_WORK nor BATON_SYNTHESIS may keep a message of a finished task (a killed 2.9
// server brings acked work-queue messages back: the supervisor deletes them).

/** How long the server stays up between two kills, in ms (uniform). */
const UP_MS: readonly [number, number] = [1_200, 2_800];
/** How long it stays down, in ms (uniform)… */
const DOWN_MS: readonly [number, number] = [100, 1_200];
/** …except every fifth time: longer than the JetStream client's request timeout (5 s). */
const LONG_DOWN_MS = 6_000;
/** No task may take this long (s): the synthesizer consumer's ack_wait is 60 s. */
const MAX_TASK_SECONDS = 45;
/** How long leftovers of finished tasks may take to go (the supervisor checks ended tasks every DISPATCH_STALE_MS / 2 = 2 s here). */
const LEFTOVER_SETTLE_MS = 15_000;

describe.skipIf(!natsServerAvailable())("chaos (f): nats-server restarted many times", () => {
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

  it("keeps every service process alive and finishes every task exactly once", async () => {
    const restarts = chaosNatsRestarts();
    const startedAt = Date.now();
    const kills: Kill[] = [];
    const taskIds: string[] = [];
    const run = { restarting: true };
    const chaos = (async () => {
      try {
        for (let i = 0; i < restarts; i++) {
          const long = (i + 1) % 5 === 0;
          await sleep(randomInt(...UP_MS));
          // A long outage starts as a task starts synthesizing (or after 10 s without one).
          if (long) await client.nextEvent((e) => e.type === "synthesizing", 10_000);
          const pid = stack.nats.process.pid ?? -1;
          await stack.killNats();
          const downMs = long ? LONG_DOWN_MS : randomInt(...DOWN_MS);
          kills.push({ label: "nats-server", pid, instance: undefined, atMs: Date.now() - startedAt, note: `down ${downMs} ms` });
          await sleep(downMs);
          await stack.restartNats();
        }
      } finally {
        run.restarting = false;
      }
    })();
    // Tasks flow for as long as the server keeps being restarted (at least 10 of them).
    for (let i = 0; run.restarting || i < 10; i++) {
      const taskId = `chaos-f-${i}`;
      taskIds.push(taskId);
      await client.submit(submission(taskId, workloadPlan()));
      await sleep(randomInt(200, 500));
    }
    await chaos;
    const missing = await client.waitForOutcomes(taskIds, 150_000);
    const atOutcomes = await leftoverMessages(client, taskIds);
    const settled = await waitForNoLeftovers(client, taskIds, LEFTOVER_SETTLE_MS);
    const report = await analyzeRun({
      scenario: "(f) nats-server restarted many times",
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
    const exits = stack.services.flatMap((s) => s.crashes.map((c) => `${s.label} pid ${c.pid} (${c.exit.signal ?? c.exit.code})`));
    const notAlive = stack.services.filter((s) => s.generations.length !== 1 || !s.up).map((s) => s.label);
    const slowest = slowestTasks(report, 3);
    printCounts(
      report.counts,
      {
        "nats-server restarts": kills.length,
        [`  of which down ${LONG_DOWN_MS / 1000} s (> request timeout)`]: kills.filter((k) => k.note === `down ${LONG_DOWN_MS} ms`).length,
        "service process exits": exits.length,
        "services alive (first process)": `${stack.services.length - notAlive.length}/${stack.services.length}`,
        "leftovers at last outcome (work/synthesis)": `${atOutcomes.work}/${atOutcomes.synthesis}`,
        [`leftovers after ≤ ${LEFTOVER_SETTLE_MS / 1000} s (work/synthesis)`]: `${settled.leftovers.work}/${settled.leftovers.synthesis} (after ${settled.waitedMs} ms)`,
        "slowest tasks (s)": slowest.map((t) => `${t.taskId} ${t.seconds}`).join(", "),
      },
      [...report.knownBugs, ...report.notes],
    );
    expect(report.violations).toEqual([]);
    expect(kills).toHaveLength(restarts);
    expect(exits).toEqual([]);
    expect(notAlive).toEqual([]);
    expect(report.counts.storedOutcomes).toBe(taskIds.length);
    expect(settled.leftovers.subjects).toEqual([]);
    expect(slowest[0]?.seconds ?? 0, `slowest task ${slowest[0]?.taskId}`).toBeLessThan(MAX_TASK_SECONDS);
    for (const [taskId, outcome] of report.outcomes) {
      if (outcome.status !== "completed") continue;
      for (const stepId of WORKLOAD_EFFECT_STEPS) expect(report.effects.get(`${taskId} ${stepId}`), `${taskId} ${stepId}`).toHaveLength(1);
    }
  });
});
