import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  ADVISORIES_STREAM,
  DLQ_STREAM,
  type DeadLetterRecord,
  readDeadLetterHeaders,
  subjects,
  SYNTHESIS_CONSUMER,
  SYNTHESIS_STREAM,
  TaskRejected,
  WORK_STREAM,
} from "@baton/contracts";
import { BaseServiceEnv, loadConfig, natsServerAvailable, startService } from "@baton/core";
import { startDeadLetterHandler } from "@baton/supervisor";
import { AckPolicy, type JetStreamManager, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { registerAgentCard } from "../support/agents.ts";
import { ROOT, type ServiceProcess, startStack, type TestStack } from "../support/services.ts";

// Dead letters end to end: a real nats-server, the services as real processes (all but the data
// agent, so data work waits in BATON_WORK), the supervisor's dead-letter handler, and the CLI.

// The supervisor handles dead letters of Baton's own streams only (its credentials read and delete
// nothing else): the poison message sits in BATON_WORK, under an agent nobody runs.
const POISON_STREAM = WORK_STREAM.name;
const POISON_CONSUMER = "poison-agent";
const POISON_SUBJECT = "work.poison.t-poison.s1";

/** The advisory nats-server publishes when `consumer` gives up on message `seq` of `stream`. */
function maxDeliveriesAdvisory(stream: string, consumer: string, seq: number, deliveries = 5) {
  return {
    type: "io.nats.jetstream.advisory.v1.max_deliver",
    id: `test-${stream}-${seq}-${Date.now()}`,
    timestamp: new Date().toISOString(),
    stream,
    consumer,
    stream_seq: seq,
    deliveries,
  };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function recordOf(m: StoredMsg): DeadLetterRecord {
  const parsed = readDeadLetterHeaders((h) => m.header.get(h));
  if (!parsed.success) throw new Error(`invalid dead-letter headers: ${parsed.error.message}`);
  return parsed.data;
}

const step = (id: string, agent: string, tool: string, args: Record<string, unknown>, dependsOn: string[] = []) => ({
  id,
  agent,
  instruction: `${tool} for ${id}`,
  toolCalls: [{ tool, args }],
  dependsOn,
});

/** `rows` goes to the data agent (not running: its work waits in BATON_WORK); `add` and `after` to the code agent. */
function dataPlan(failurePolicy: "fail-fast" | "continue") {
  return {
    failurePolicy,
    steps: [
      step("rows", "data", "sql_query", { sql: "select count(*) as n from cars" }),
      step("add", "code", "evaluate_expression", { expression: "2+3" }),
      step("after", "code", "evaluate_expression", { expression: "n * 2", scope: { n: { $fromStep: "rows", path: "/rows/0/n" } } }, [
        "rows",
      ]),
    ],
  };
}

/** The operator credentials of the stack under test (`baton dlq` is an operator command). */
let operatorCreds: string | undefined;

function cli(args: readonly string[], natsUrl: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "cli", "src", "main.ts"), "--nats", natsUrl, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", NATS_URL: "", ...(operatorCreds ? { NATS_CREDS: operatorCreds } : {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.skipIf(!natsServerAvailable())("dead letters", () => {
  let stack: TestStack;
  let client: TestClient;
  let jsm: JetStreamManager;
  let supervisor: ServiceProcess;
  /** DLQ sequences of the work items dead-lettered by the system tests, by taskId. */
  const dlqSeqOf = new Map<string, number>();

  beforeAll(async () => {
    stack = await startStack({
      services: ["supervisor", "research-agent", "code-agent", "synthesizer"],
      env: { DISPATCH_STALE_MS: "2000" },
    });
    client = await connectClient(stack.nats.url);
    operatorCreds = await stack.credentials({ kind: "operator" });
    jsm = await jetstreamManager(client.nc);
    const found = stack.services.find((s) => s.name === "supervisor");
    if (!found) throw new Error("no supervisor");
    supervisor = found;
    await supervisor.waitForLog((l) => l.msg === "dead-letter handler ready");
    // The data agent is registered (its card) but never runs here: its steps wait in BATON_WORK,
    // where the tests dead-letter them as the server would.
    await registerAgentCard(client.nc, {
      agent: "data",
      tools: [{ name: "sql_query", inputSchema: { type: "object", properties: { sql: { type: "string" } }, required: ["sql"] } }],
    });
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("moves a message that exhausted a consumer's max_deliver to BATON_DLQ, headers kept, and deletes it", async () => {
    // A consumer of our own on the work stream that gives up after 2 deliveries, and a "worker"
    // that naks everything: the real server emits the real MAX_DELIVERIES advisory.
    await jsm.consumers.add(POISON_STREAM, {
      durable_name: POISON_CONSUMER,
      filter_subject: "work.poison.>",
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(1_000),
      max_deliver: 2,
    });
    const hdrs = natsHeaders();
    hdrs.set("X-Test", "kept");
    hdrs.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    const payload = JSON.stringify({ poison: true });
    const ack = await client.js.publish(POISON_SUBJECT, payload, { headers: hdrs, msgID: "poison-1" });
    const consumer = await client.js.consumers.get(POISON_STREAM, POISON_CONSUMER);
    const messages = await consumer.consume({ max_messages: 1 });
    let deliveries = 0;
    void (async () => {
      for await (const m of messages) {
        deliveries++;
        m.nak();
      }
    })();
    const dlqSubject = subjects.deadLetter(POISON_STREAM, POISON_CONSUMER, ack.seq);
    try {
      const copy = await waitFor("the dead letter", () => jsm.streams.getMessage(DLQ_STREAM.name, { last_by_subj: dlqSubject }));
      expect(deliveries).toBe(2);
      expect(new TextDecoder().decode(copy.data)).toBe(payload);
      expect(copy.header.get("X-Test")).toBe("kept");
      expect(copy.header.get("traceparent")).toBe(hdrs.get("traceparent"));
      expect(copy.header.get("Nats-Msg-Id")).toBe(`dlq-${POISON_STREAM}-${ack.seq}`);
      const record = recordOf(copy);
      expect(record).toMatchObject({
        schemaVersion: 1,
        stream: POISON_STREAM,
        consumer: POISON_CONSUMER,
        streamSeq: ack.seq,
        subject: POISON_SUBJECT,
        deliveries: 2,
        originalMsgId: "poison-1",
        taskId: "t-poison",
        stepId: "s1",
      });
      // Gone from its work queue (it would otherwise stay there for ever).
      await waitFor("the original's deletion", async () =>
        (await jsm.streams.getMessage(POISON_STREAM, { seq: ack.seq })) === null ? true : undefined,
      );

      // The server's advisory, as captured in BATON_ADVISORIES, has the shape the handler expects.
      const advisory = await jsm.streams.getMessage(ADVISORIES_STREAM.name, {
        last_by_subj: subjects.maxDeliveriesAdvisory(POISON_STREAM, POISON_CONSUMER),
      });
      expect(advisory?.json()).toMatchObject({
        type: "io.nats.jetstream.advisory.v1.max_deliver",
        stream: POISON_STREAM,
        consumer: POISON_CONSUMER,
        stream_seq: ack.seq,
        deliveries: 2,
      });

      // A redelivered advisory: the original is gone, the copy is not duplicated.
      client.nc.publish(
        subjects.maxDeliveriesAdvisory(POISON_STREAM, POISON_CONSUMER),
        JSON.stringify(maxDeliveriesAdvisory(POISON_STREAM, POISON_CONSUMER, ack.seq, 2)),
      );
      await supervisor.waitForLog(
        (l) => l.streamSeq === ack.seq && l.stream === POISON_STREAM && String(l.msg).startsWith("redelivered advisory"),
      );
      const copies = (await jsm.streams.info(DLQ_STREAM.name, { subjects_filter: dlqSubject })).state.subjects ?? {};
      expect(copies[dlqSubject]).toBe(1);
    } finally {
      messages.stop();
    }
  });

  /** Submits a task, waits for its data step's work in BATON_WORK and dead-letters it as the server would. */
  async function deadLetterDataStep(taskId: string, failurePolicy: "fail-fast" | "continue") {
    const events = client.watch(taskId);
    await client.submit({ taskId, goal: `dead-letter test (${failurePolicy})`, plan: dataPlan(failurePolicy) });
    const work = await waitFor("the data step's work message", () =>
      jsm.streams.getMessage(WORK_STREAM.name, { last_by_subj: subjects.work("data", taskId, "rows") }),
    );
    client.nc.publish(
      subjects.maxDeliveriesAdvisory(WORK_STREAM.name, "data-agent"),
      JSON.stringify(maxDeliveriesAdvisory(WORK_STREAM.name, "data-agent", work.seq)),
    );
    const outcome = await client.outcome(taskId);
    const copy = await waitFor("the dead letter", () =>
      jsm.streams.getMessage(DLQ_STREAM.name, { last_by_subj: subjects.deadLetter(WORK_STREAM.name, "data-agent", work.seq) }),
    );
    dlqSeqOf.set(taskId, copy.seq);
    expect(recordOf(copy)).toMatchObject({ stream: WORK_STREAM.name, consumer: "data-agent", taskId, stepId: "rows", deliveries: 5 });
    expect(copy.data).toEqual(work.data);
    expect(await jsm.streams.getMessage(WORK_STREAM.name, { seq: work.seq })).toBeNull();
    return { outcome, events };
  }

  it("fail-fast: a dead-lettered step fails the task with the step's DEAD_LETTERED error", async () => {
    const taskId = `dlq-fail-fast-${Date.now()}`;
    const { outcome, events } = await deadLetterDataStep(taskId, "fail-fast");
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("rows");
    expect(outcome.value.error.code).toBe("STEP_FAILED");
    expect(outcome.value.error.message).toContain("DEAD_LETTERED");
    const rows = outcome.value.steps.find((s) => s.stepId === "rows");
    expect(rows?.status).toBe("failed");
    expect(rows?.error?.code).toBe("DEAD_LETTERED");
    expect(rows?.attempt).toBe(1);
    expect(outcome.value.steps.find((s) => s.stepId === "after")?.status).toBe("skipped");
    await waitFor("the step.failed event", async () => events.find((e) => e.type === "step.failed" && e.stepId === "rows"));
  });

  it("continue: the other steps still complete and the task is synthesized", async () => {
    const taskId = `dlq-continue-${Date.now()}`;
    const { outcome } = await deadLetterDataStep(taskId, "continue");
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    const byId = Object.fromEntries(outcome.value.steps.map((s) => [s.stepId, s]));
    expect(byId.rows?.status).toBe("failed");
    expect(byId.rows?.error?.code).toBe("DEAD_LETTERED");
    expect(byId.add?.status).toBe("completed");
    expect(byId.add?.output).toMatchObject({ result: 5 });
    expect(byId.after?.status).toBe("skipped");
    expect(outcome.value.answer.length).toBeGreaterThan(0);
  });

  it("baton dlq list / show / replay / purge", async () => {
    const url = stack.nats.url;
    const [failFastTask, failFastSeq] = [...dlqSeqOf.entries()].find(([t]) => t.startsWith("dlq-fail-fast-")) ?? [];
    if (!failFastTask || !failFastSeq) throw new Error("the fail-fast test did not run");

    const list = await cli(["--json", "dlq", "list"], url);
    expect(list.code).toBe(0);
    const entries = list.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; seq: number; taskId?: string; stepId?: string; stream: string; subject: string });
    expect(entries.every((e) => e.kind === "dead_letter")).toBe(true);
    expect(entries).toHaveLength(3); // the poison message and the two data steps
    expect(entries.find((e) => e.seq === failFastSeq)).toMatchObject({
      stream: WORK_STREAM.name,
      subject: subjects.work("data", failFastTask, "rows"),
      taskId: failFastTask,
      stepId: "rows",
      deliveries: 5,
    });

    const plain = await cli(["dlq", "list"], url);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(
      new RegExp(`^#${failFastSeq}\\s.*work\\.data\\.${failFastTask}\\.rows\\s+task ${failFastTask} step rows\\s+5 deliveries`, "m"),
    );

    const show = await cli(["dlq", "show", String(failFastSeq)], url);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`subject          work.data.${failFastTask}.rows`);
    expect(show.stdout).toContain('"stepId": "rows"');
    expect((await cli(["dlq", "show", "99999"], url)).code).toBe(3);

    // Replay: the original payload and headers arrive on the original subject.
    const arrived = new Promise<{ data: string; msgId: string; dlqHeader: boolean }>((resolve) => {
      const sub = client.nc.subscribe(subjects.work("data", failFastTask, "rows"), {
        max: 1,
        callback: (_err, msg) => {
          resolve({
            data: msg.string(),
            msgId: msg.headers?.get("Nats-Msg-Id") ?? "",
            dlqHeader: msg.headers?.has("Baton-Dlq-Stream") ?? false,
          });
          sub.unsubscribe();
        },
      });
    });
    await client.nc.flush();
    const original = await jsm.streams.getMessage(DLQ_STREAM.name, { seq: failFastSeq });
    const replay = await cli(["dlq", "replay", String(failFastSeq)], url);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain(`replayed #${failFastSeq} → work.data.${failFastTask}.rows (${WORK_STREAM.name} #`);
    const got = await arrived;
    expect(got.data).toBe(new TextDecoder().decode(original?.data));
    expect(got.msgId).toMatch(new RegExp(`^replay-${failFastSeq}-\\d+$`));
    expect(got.dlqHeader).toBe(false);
    expect(await jsm.streams.getMessage(DLQ_STREAM.name, { seq: failFastSeq })).toBeNull();
    const requeued = await jsm.streams.getMessage(WORK_STREAM.name, { last_by_subj: subjects.work("data", failFastTask, "rows") });
    expect(requeued?.data).toEqual(original?.data);

    expect((await cli(["dlq", "replay"], url)).code).toBe(2);
    const refused = await cli(["dlq", "purge"], url);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("--yes");
    expect((await jsm.streams.info(DLQ_STREAM.name)).state.messages).toBe(2);
    const purge = await cli(["--json", "dlq", "purge", "--yes"], url);
    expect(purge.code).toBe(0);
    expect(JSON.parse(purge.stdout)).toEqual({ kind: "purged", purged: 2 });
    expect((await jsm.streams.info(DLQ_STREAM.name)).state.messages).toBe(0);
    const empty = await cli(["dlq", "list"], url);
    expect(empty.stdout).toBe("");
    expect(empty.stderr).toContain("is empty");
  });

  it("a dead-lettered synthesis request fails its task with DEAD_LETTERED, and nothing sends it again", async () => {
    // With the synthesizer stopped, the request waits in BATON_SYNTHESIS until the test dead-letters it.
    const synthesizer = stack.services.find((s) => s.name === "synthesizer");
    if (!synthesizer) throw new Error("no synthesizer");
    await synthesizer.stop();
    const taskId = `dlq-synthesis-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({ taskId, goal: "add", plan: { steps: [step("add", "code", "evaluate_expression", { expression: "2+3" })] } });
    const request = await waitFor("the synthesis request", () =>
      jsm.streams.getMessage(SYNTHESIS_STREAM.name, { last_by_subj: subjects.synthesis(taskId) }),
    );
    client.nc.publish(
      subjects.maxDeliveriesAdvisory(SYNTHESIS_STREAM.name, SYNTHESIS_CONSUMER.durable),
      JSON.stringify(maxDeliveriesAdvisory(SYNTHESIS_STREAM.name, SYNTHESIS_CONSUMER.durable, request.seq)),
    );
    const outcome = await client.outcome(taskId, 15_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.error.code).toBe("DEAD_LETTERED");
    expect(outcome.value.error.message).toContain(`synthesis.${taskId}`);
    // The dispatch watchdog (DISPATCH_STALE_MS 2 s here) sends no new request for the failed task.
    await new Promise((r) => setTimeout(r, 5_000));
    expect(await jsm.streams.getMessage(SYNTHESIS_STREAM.name, { last_by_subj: subjects.synthesis(taskId) })).toBeNull();
    expect(events.filter((e) => e.type === "failed")).toHaveLength(1);
    expect(events.filter((e) => e.type === "synthesizing")).toHaveLength(1);
  });

  it("a dead-lettered submission is rejected with DEAD_LETTERED (handler in-process, supervisor stopped)", async () => {
    // With the supervisor stopped nothing consumes tasks.submit, so the submission stays put.
    await supervisor.stop();
    const taskId = `dlq-submission-${Date.now()}`;
    const ack = await client.js.publish(subjects.submit, JSON.stringify({ taskId, goal: "never planned", plan: dataPlan("fail-fast") }));
    client.nc.publish(
      subjects.maxDeliveriesAdvisory(ack.stream, "supervisor-submissions"),
      JSON.stringify(maxDeliveriesAdvisory(ack.stream, "supervisor-submissions", ack.seq)),
    );
    const creds = await stack.credentials({ kind: "supervisor" });
    const service = await startService(
      "dlq-test",
      loadConfig(BaseServiceEnv, { NATS_URL: stack.nats.url, LOG_LEVEL: "silent", ...(creds ? { NATS_CREDS: creds } : {}) }),
      {
        handleSignals: false,
      },
    );
    const handler = await startDeadLetterHandler(service);
    try {
      const rejection = TaskRejected.parse(await client.waitForRejection((r) => r.taskId === taskId));
      expect(rejection.error.code).toBe("DEAD_LETTERED");
      expect(rejection.error.message).toContain("tasks.submit");
      const copy = await waitFor("the dead letter", () =>
        jsm.streams.getMessage(DLQ_STREAM.name, { last_by_subj: subjects.deadLetter(ack.stream, "supervisor-submissions", ack.seq) }),
      );
      expect(recordOf(copy)).toMatchObject({ stream: ack.stream, subject: subjects.submit, taskId });
      expect(await jsm.streams.getMessage(ack.stream, { seq: ack.seq })).toBeNull();
    } finally {
      await handler.stop(1_000);
      await service.shutdown("test over");
    }
  });
});
