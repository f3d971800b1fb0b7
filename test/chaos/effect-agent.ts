import { appendFileSync } from "node:fs";
import { defineAgent, defineTool, runAgent, ToolError } from "@baton/agent";
import { z } from "zod";

// A test-only agent for the chaos suite, `chaos` (durable `chaos-agent`), built with the agent SDK
// like any user's agent, with tools whose side effects the tests can count:
// - `record_effect` (not idempotent, run through the effect ledger): appends
//   `<taskId> <stepId> <pid> <time>` to EFFECTS_FILE, one line per real execution;
// - `sleep_ms` (idempotent): waits, honouring the step's abort signal;
// - `always_fail`: a retryable failure every time (a poison step);
// - `crash_worker`: SIGKILLs its own process (a poison pill no retry policy can see).

const effectsFile = process.env.EFFECTS_FILE;

const recordEffect = defineTool({
  name: "record_effect",
  description: "Records one side effect of the step (appends a line to the effects file). Not idempotent.",
  input: z.object({ label: z.string().min(1).max(64) }),
  timeoutMs: 5_000,
  riskTier: "write",
  idempotent: false,
  async execute(args, ctx) {
    if (!effectsFile) throw new ToolError("TOOL_FAILED", "EFFECTS_FILE is not set");
    const at = new Date().toISOString();
    appendFileSync(effectsFile, `${ctx.taskId} ${ctx.stepId} ${process.pid} ${at}\n`);
    return { label: args.label, pid: process.pid, at };
  },
});

const sleepMs = defineTool({
  name: "sleep_ms",
  description: "Waits `ms` milliseconds, then returns. Idempotent.",
  input: z.object({ ms: z.number().int().min(0).max(120_000) }),
  timeoutMs: 125_000,
  riskTier: "compute",
  idempotent: true,
  execute(args, ctx) {
    return new Promise<{ sleptMs: number }>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(new ToolError("TOOL_FAILED", "sleep aborted", { retryable: true }));
      const timer = setTimeout(() => {
        ctx.signal.removeEventListener("abort", onAbort);
        resolve({ sleptMs: args.ms });
      }, args.ms);
      function onAbort() {
        clearTimeout(timer);
        reject(new ToolError("TOOL_FAILED", "sleep aborted", { retryable: true }));
      }
      ctx.signal.addEventListener("abort", onAbort, { once: true });
    });
  },
});

const alwaysFail = defineTool({
  name: "always_fail",
  description: "Fails every time with a retryable error (a poison step).",
  input: z.object({}),
  timeoutMs: 1_000,
  riskTier: "compute",
  idempotent: true,
  async execute() {
    throw new ToolError("TOOL_FAILED", "poison", { retryable: true });
  },
});

const crashWorker = defineTool({
  name: "crash_worker",
  description: "SIGKILLs the worker process running it (a poison pill that takes its worker down).",
  input: z.object({}),
  timeoutMs: 5_000,
  riskTier: "compute",
  idempotent: true,
  async execute() {
    // A moment first, so the step's `step.started` event (written to the connection without
    // waiting for its ack) leaves the process: every delivery shows in BATON_EVENTS.
    await new Promise((resolve) => setTimeout(resolve, 200));
    process.kill(process.pid, "SIGKILL");
    return {};
  },
});

await runAgent(
  defineAgent({
    name: "chaos",
    version: "1.0.0",
    description: "Test-only: records countable side effects, sleeps, fails on purpose and crashes its own process.",
    tools: [recordEffect, sleepMs, alwaysFail, crashWorker],
  }),
);
