import { WORK_STREAM } from "@baton/contracts";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgentCard } from "../support/agents.ts";
import { connectClient, type TestClient } from "../support/client.ts";
import { type ServiceProcess, startService, startStack, type TestStack } from "../support/services.ts";

// nats-server 2.9 acks a publish before its message reaches the disk, so a SIGKILLed server can
// lose acked work. Here the loss is made deterministic: the queued work message is deleted from
// the stream while no research agent runs; the supervisor's watchdog must dispatch it again.
describe("dispatch watchdog: work lost by the bus is dispatched again", () => {
  let stack: TestStack;
  let client: TestClient;
  let research: ServiceProcess | undefined;

  beforeAll(async () => {
    stack = await startStack({ services: ["supervisor", "synthesizer"], env: { DISPATCH_STALE_MS: "2000" } });
    client = await connectClient(stack.nats.url);
    // Registered (as a replica would), but no replica runs until the test starts one.
    await registerAgentCard(client.nc, { agent: "research", tools: [{ name: "search_documents", inputSchema: { type: "object" } }] });
  });
  afterAll(async () => {
    await client?.close();
    await research?.stop();
    await stack?.stop();
  });

  it("re-dispatches a step whose work message vanished, as a new attempt, and the task completes once", async () => {
    const taskId = `lost-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "survive a lost message",
      plan: {
        steps: [
          { id: "find", agent: "research", instruction: "search", toolCalls: [{ tool: "search_documents", args: { query: "readline" } }] },
        ],
      },
    });
    const jsm = await jetstreamManager(client.nc);
    const subject = `work.research.${taskId}.find`;
    let seq: number | undefined;
    for (let i = 0; i < 100 && seq === undefined; i++) {
      seq = (await jsm.streams.getMessage(WORK_STREAM.name, { last_by_subj: subject }))?.seq;
      if (seq === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(seq).toBeTypeOf("number");
    // Accepted although no replica of its agent is live: the step waits, and an event says so.
    const waiting = events.find((e) => e.type === "step.waiting");
    expect(waiting).toMatchObject({ stepId: "find", agent: "research" });
    await jsm.streams.deleteMessage(WORK_STREAM.name, seq as number); // the "lost" message

    const supervisor = stack.services.find((s) => s.name === "supervisor");
    await supervisor?.waitForLog((l) => l.taskId === taskId && l.msg === "work or result lost by the bus: step dispatched again", 15_000);
    research = await startService("research-agent", stack.env);
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("completed");
    expect(outcome.value.steps[0]?.attempt).toBe(2);
    expect(events.filter((e) => e.type === "step.dispatched").map((e) => ("attempt" in e ? e.attempt : 0))).toEqual([1, 2]);
  });
});
