import type { TaskEvent } from "@baton/contracts";
import { describe, expect, it } from "vitest";
import { useStackWithClient } from "../support/fixture.ts";

// Regression test of issue 9, item 1: a busy `run_javascript` must not freeze its code agent.
// One code-agent process with two slots and a short lease (ack_wait 1.5 s, heartbeats every
// 500 ms); a step spins `while (true) {}` for its 3 s limit, i.e. past two lease periods. When
// the script ran on the agent's own thread, the agent sent no heartbeat while it spun: the step
// was redelivered and ran again, and a `1+1` task submitted meanwhile waited for both runs
// (measured: 4.1 s, two deliveries). Also: a script stuck where QuickJS cannot interrupt it has its
// thread stopped 1 s after its limit (it used to run ~29 s, twice), and a cancellation stops a
// spinning script at once (it used to wait for the script's own limit).
const ACK_WAIT_MS = 1_500;
const BUSY_TIMEOUT_MS = 3_000;
/** The quick task is submitted this long after the busy step started: past its first lease. */
const QUICK_AFTER_MS = ACK_WAIT_MS + 500;
/** A generous bound on the quick task's submit-to-outcome time (~150 ms measured while the busy step spins). */
const QUICK_BOUND_MS = 2_000;

describe("a busy run_javascript step", () => {
  const fx = useStackWithClient({
    services: ["supervisor", "synthesizer", "code-agent"],
    env: { WORKER_CONCURRENCY: "2", WORK_ACK_WAIT_MS: String(ACK_WAIT_MS) },
  });

  it("is stopped at its limit, delivered once, and does not delay another task", async () => {
    const busyId = `busy-${Date.now()}`;
    const quickId = `quick-${Date.now()}`;
    const busyEvents = fx.client.watch(busyId);
    const quickEvents = fx.client.watch(quickId);
    await fx.client.submit({
      taskId: busyId,
      goal: "spin",
      plan: {
        steps: [
          {
            id: "spin",
            agent: "code",
            instruction: "spin until stopped",
            toolCalls: [{ tool: "run_javascript", args: { code: "while (true) {}", timeoutMs: BUSY_TIMEOUT_MS } }],
          },
        ],
      },
    });
    await waitFor(() => busyEvents.some((e) => e.type === "step.started"), 15_000);
    const busyStarted = performance.now();
    await sleep(QUICK_AFTER_MS);

    const submitted = performance.now();
    await fx.client.submit({
      taskId: quickId,
      goal: "add",
      plan: {
        steps: [
          {
            id: "add",
            agent: "code",
            instruction: "add twice",
            toolCalls: [
              { tool: "evaluate_expression", args: { expression: "1+1" } },
              { tool: "run_javascript", args: { code: "return 1 + 1;" } },
            ],
          },
        ],
      },
    });
    const quick = await fx.client.outcome(quickId, 30_000);
    const quickMs = performance.now() - submitted;
    const busy = await fx.client.outcome(busyId, 30_000);
    const busyMs = performance.now() - busyStarted;
    // A redelivery would show within a lease of the outcome.
    await sleep(ACK_WAIT_MS + 1_000);

    const agent = fx.stack.services.find((s) => s.name === "code-agent");
    const deliveries = (agent?.logs ?? []).filter(
      (l) => l.taskId === busyId && (l.msg === "step started" || l.msg === "step skipped: its task has ended"),
    ).length;
    const started = busyEvents.filter((e) => e.type === "step.started").length;
    const quickStep = stepDuration(quickEvents);
    console.log(
      `busy run_javascript: quick task ${quickMs.toFixed(0)} ms submit-to-outcome (step ${quickStep} ms) ` +
        `while the busy step ran; busy step outcome after ${busyMs.toFixed(0)} ms, ` +
        `step.started ×${started}, deliveries ×${deliveries}`,
    );

    expect(quick.status).toBe("completed");
    expect(quick.status === "completed" && quick.value.steps[0]?.output).toMatchObject({ result: 2 });
    expect(quickMs).toBeLessThan(QUICK_BOUND_MS);
    expect(busy.status).toBe("failed");
    expect(busy.value.steps[0]?.error).toMatchObject({ code: "TOOL_TIMEOUT", retryable: false });
    expect(started).toBe(1);
    expect(deliveries).toBe(1);
  });

  it("has its thread stopped when the script is stuck where QuickJS cannot interrupt it", async () => {
    // Ten BigInt-to-decimal conversions in one join: ~30 s inside QuickJS's C code, which never calls the
    // interrupt handler; the agent terminates the thread 1 s after the script's limit.
    const taskId = `stuck-${Date.now()}`;
    const events = fx.client.watch(taskId);
    const started = performance.now();
    await fx.client.submit({
      taskId,
      goal: "stuck",
      plan: {
        steps: [
          {
            id: "stuck",
            agent: "code",
            instruction: "convert huge numbers",
            toolCalls: [
              { tool: "run_javascript", args: { code: "return Array(10).fill(7n ** 373000n).join('').length;", timeoutMs: 1_000 } },
            ],
          },
        ],
      },
    });
    const outcome = await fx.client.outcome(taskId, 30_000);
    const ms = performance.now() - started;
    console.log(
      `stuck run_javascript: outcome after ${ms.toFixed(0)} ms, step.started ×${events.filter((e) => e.type === "step.started").length}`,
    );
    expect(outcome.status).toBe("failed");
    expect(outcome.value.steps[0]?.error).toMatchObject({ code: "TOOL_TIMEOUT", message: expect.stringMatching(/1000 ms time limit/) });
    expect(ms).toBeLessThan(5_000);
    const quickId = `after-stuck-${Date.now()}`;
    await fx.client.submit({
      taskId: quickId,
      goal: "add",
      plan: {
        steps: [{ id: "add", agent: "code", instruction: "add", toolCalls: [{ tool: "run_javascript", args: { code: "return 2 + 2;" } }] }],
      },
    });
    expect(await fx.client.outcome(quickId, 10_000)).toMatchObject({ status: "completed" });
    expect(events.filter((e) => e.type === "step.started")).toHaveLength(1);
  });

  it("is stopped at once when its task is cancelled", async () => {
    const taskId = `cancel-busy-${Date.now()}`;
    const events = fx.client.watch(taskId);
    await fx.client.submit({
      taskId,
      goal: "spin until cancelled",
      plan: {
        steps: [
          {
            id: "spin",
            agent: "code",
            instruction: "spin",
            toolCalls: [{ tool: "run_javascript", args: { code: "while (true) {}", timeoutMs: 5_000 } }],
          },
        ],
      },
    });
    await waitFor(() => events.some((e) => e.type === "step.started"), 15_000);
    await sleep(500);
    const cancelled = performance.now();
    await fx.client.js.publish("tasks.cancel", JSON.stringify({ taskId, reason: "test" }));
    const outcome = await fx.client.outcome(taskId, 15_000);
    expect(outcome.status === "failed" && outcome.value.error.code).toBe("CANCELLED");
    const agent = fx.stack.services.find((s) => s.name === "code-agent");
    await agent?.waitForLog((l) => l.taskId === taskId && l.msg === "step aborted: its task was cancelled or timed out", 10_000);
    const abortedMs = performance.now() - cancelled;
    console.log(`cancelled busy run_javascript: step aborted ${abortedMs.toFixed(0)} ms after the cancellation`);
    expect(abortedMs).toBeLessThan(2_000); // the script's own limit (5 s) was not waited for
  });
});

/** The `durationMs` of the first `step.completed` event, or "?". */
function stepDuration(events: TaskEvent[]): string {
  const done = events.find((e) => e.type === "step.completed");
  return done && "durationMs" in done ? String(Math.round(done.durationMs)) : "?";
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(20);
  }
}
