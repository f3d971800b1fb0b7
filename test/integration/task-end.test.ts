import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { subjects, type TaskEvent, WORK_STREAM } from "@baton/contracts";
import { natsServerAvailable, sleep } from "@baton/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgentCard } from "../support/agents.ts";
import { connectClient, type TestClient } from "../support/client.ts";
import { type LoggedProcess, ROOT, spawnLogged, startStack, type TestStack } from "../support/services.ts";

// What happens once a task has ended: nothing of it may be reported any more (no step event after
// the task's terminal event), and nothing of it may stay in the work queues (the supervisor
// deletes its remaining work messages; workers ack, without running, work of an ended task).

describe.skipIf(!natsServerAvailable())("after a task ends", () => {
  let stack: TestStack;
  let client: TestClient;
  let agent: LoggedProcess | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-task-end-"));
    const effectsFile = join(dir, "effects.log");
    writeFileSync(effectsFile, "");
    stack = await startStack({
      services: ["supervisor", "synthesizer"],
      auth: false,
      env: { DISPATCH_STALE_MS: "2000", APPROVAL_POLICY_JSON: JSON.stringify({ tiers: [] }) },
    });
    client = await connectClient(stack.nats.url);
    // The chaos suite's test agent `chaos`: sleep_ms, always_fail, record_effect.
    agent = spawnLogged(join(ROOT, "test", "chaos", "effect-agent.ts"), "effect-agent", {
      NATS_URL: stack.nats.url,
      LOG_LEVEL: "info",
      EFFECTS_FILE: effectsFile,
      WORKER_CONCURRENCY: "2",
      OTEL_EXPORTER_OTLP_ENDPOINT: "",
    });
    await agent.waitForLog((l) => l.msg === "worker ready", 60_000);
  });
  afterAll(async () => {
    await client?.close();
    if (agent && agent.process.exitCode === null) {
      agent.process.kill("SIGTERM");
      await agent.exited;
    }
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("publishes no step event after the task's failed event when a sibling step is still running", async () => {
    const taskId = `ended-sibling-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "one step fails at once while another still runs",
      plan: {
        failurePolicy: "fail-fast",
        steps: [
          { id: "boom", agent: "chaos", instruction: "fail", toolCalls: [{ tool: "always_fail", args: {} }], retry: { maxAttempts: 1 } },
          { id: "slow", agent: "chaos", instruction: "sleep", toolCalls: [{ tool: "sleep_ms", args: { ms: 2_500 } }] },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    // The slow step would have finished by now.
    await sleep(4_000);
    const types = events.map((e) => `${e.type}${"stepId" in e && e.stepId ? ` ${e.stepId}` : ""}`);
    const end = events.findIndex((e) => e.type === "failed");
    expect(end, types.join(", ")).toBeGreaterThanOrEqual(0);
    expect(events.slice(end + 1).map(describeEvent)).toEqual([]);
    expect(types).toContain("step.failed boom");
    expect(types).not.toContain("step.completed slow");
  });

  it("removes the work messages of a task that ended from BATON_WORK", async () => {
    // An agent registered without a live replica: its work waits in the stream.
    await registerAgentCard(client.nc, { agent: "ghost", tools: [{ name: "noop", inputSchema: { type: "object" } }] });
    const taskId = `ended-queued-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "a queued step of a cancelled task",
      plan: { steps: [{ id: "wait", agent: "ghost", instruction: "never runs", toolCalls: [{ tool: "noop", args: {} }] }] },
    });
    const jsm = await jetstreamManager(client.nc);
    const subject = subjects.work("ghost", taskId, "wait");
    const queued = async () => (await jsm.streams.getMessage(WORK_STREAM.name, { last_by_subj: subject })) !== null;
    for (let i = 0; i < 100 && !(await queued()); i++) await sleep(50);
    expect(await queued()).toBe(true);
    await client.js.publish(subjects.cancel, JSON.stringify({ taskId, reason: "test" }));
    const outcome = await client.outcome(taskId, 15_000);
    expect(outcome.status === "failed" ? outcome.value.error.code : outcome.status).toBe("CANCELLED");
    let left = true;
    for (let i = 0; i < 100 && left; i++) {
      await sleep(100);
      left = await queued();
    }
    expect(left).toBe(false);
  });
});

function describeEvent(e: TaskEvent): string {
  return `${e.type}${"stepId" in e && e.stepId ? ` ${e.stepId}` : ""}`;
}
