import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConsumerSpec } from "@baton/contracts";
import {
  connectNats,
  ConsumerLoop,
  createLogger,
  ensureConsumer,
  KvEffectLedger,
  type LocalNatsServer,
  natsServerAvailable,
  provisionAll,
  publishMessage,
  sleep,
  startLocalNatsServer,
  TaskStore,
} from "@baton/core";
import { defineTool, executeToolCall, ToolRegistry } from "@baton/tools";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager, RetentionPolicy } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ROOT, spawnLogged } from "../support/services.ts";

// Requests across a nats-server restart, in one process: the client drops what is published while
// it is disconnected (every such request used to time out after 5 s), and a request whose server
// died never gets its reply. Baton waits for the reconnect, retries what is safe to repeat, and
// nothing escapes as an unhandled rejection.

const STREAM = "BROKER_RESTART_TEST";
const CONSUMER: ConsumerSpec = {
  stream: STREAM,
  durable: "restart-test",
  filterSubject: "restart.>",
  ackWaitMs: 2_000,
  maxDeliver: 5,
  maxAckPending: 16,
};

describe.skipIf(!natsServerAvailable())("requests across a nats-server restart", () => {
  let dir: string;
  let nats: LocalNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const logger = createLogger({ service: "broker-restart-test", level: "silent" });

  /** SIGKILLs the server now and starts it again on the same port and store after `downMs`. */
  const restartIn = (downMs: number) => {
    const killed = nats.kill();
    return killed.then(async () => {
      await sleep(downMs);
      nats = await startLocalNatsServer({ storeDir: join(dir, "nats"), port: nats.port });
    });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-restart-"));
    nats = await startLocalNatsServer({ storeDir: join(dir, "nats") });
    nc = await connectNats(nats.url, "broker-restart-test");
    await provisionAll(nc);
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ["restart.>"], retention: RetentionPolicy.Workqueue });
    await ensureConsumer(jsm, CONSUMER);
    js = jetstream(nc);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    unhandled.length = 0;
    process.on("unhandledRejection", onUnhandled);
  });
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
    if (unhandled.length > 0) throw new Error(`unhandled rejections during the test: ${unhandled.map(String).join("; ")}`);
  });

  it("stores a publish made while the server is down once, soon after it is back (no 5 s timeout)", async () => {
    const restarted = restartIn(800);
    await sleep(100); // the server is down now
    const started = Date.now();
    const ack = await publishMessage(
      js,
      "restart.publish",
      z.object({ n: z.number() }),
      { n: 1 },
      {
        msgId: "restart-publish-1",
        retryForMs: 20_000,
      },
    );
    const elapsedMs = Date.now() - started;
    await restarted;
    expect(ack.duplicate).toBe(false);
    expect(elapsedMs).toBeLessThan(4_000);
    const stored = await jsm.streams.getMessage(STREAM, { last_by_subj: "restart.publish" });
    expect(stored?.seq).toBe(ack.seq);
    await jsm.streams.deleteMessage(STREAM, ack.seq);
  });

  it("keeps a consumer loop running when its handler's requests time out across a restart, and acks what it finished meanwhile", async () => {
    const deliveries = new Map<string, number>();
    const handled: string[] = [];
    const store = await TaskStore.open(nc);
    let restarted: Promise<void> | undefined;
    const loop = new ConsumerLoop(
      js,
      { spec: CONSUMER, template: "restart.{id}", logger, pullExpiresMs: 2_000, concurrency: 2 },
      async (msg) => {
        deliveries.set(msg.subject, (deliveries.get(msg.subject) ?? 0) + 1);
        if (msg.subject === "restart.slow" && !restarted) {
          // Down longer than the request timeout (5 s): a read sent now must wait for the reconnect.
          restarted = restartIn(6_000);
          await sleep(100);
          await store.get("no-such-task");
        }
        handled.push(msg.subject);
      },
    );
    loop.start();
    try {
      await js.publish("restart.slow", "x");
      for (let i = 0; i < 200 && !handled.includes("restart.slow"); i++) await sleep(100);
      await restarted;
      await js.publish("restart.after", "y");
      for (let i = 0; i < 50 && !handled.includes("restart.after"); i++) await sleep(100);
      // Longer than ack_wait (2 s): an ack lost during the outage would have brought the message back.
      await sleep(3_000);
      expect(handled).toEqual(["restart.slow", "restart.after"]);
      expect(Object.fromEntries(deliveries)).toEqual({ "restart.slow": 1, "restart.after": 1 });
      expect((await jsm.streams.info(STREAM)).state.messages).toBe(0);
    } finally {
      await loop.stop(1_000);
    }
  }, 60_000);

  it("acks a message whose handler finished while the server was down, once it is back (no redelivery)", async () => {
    const deliveries: number[] = [];
    let restarted: Promise<void> | undefined;
    const loop = new ConsumerLoop(js, { spec: CONSUMER, template: "restart.{id}", logger, pullExpiresMs: 2_000 }, async (msg) => {
      deliveries.push(msg.info.deliveryCount);
      // The kill waits 1 s: a 2.9 server SIGKILLed the moment it delivered may not have stored
      // the delivery yet, and would deliver the message anew (a loss of the server, not ours).
      await sleep(1_000);
      // The work is done while the server is down: the ack goes out after the reconnect.
      restarted ??= restartIn(1_000);
      await sleep(200);
    });
    loop.start();
    try {
      await js.publish("restart.ack", "z");
      for (let i = 0; i < 100 && deliveries.length === 0; i++) await sleep(50);
      await restarted;
      await sleep(4_000); // twice ack_wait
      expect(deliveries).toEqual([1]);
      expect((await jsm.streams.info(STREAM)).state.messages).toBe(0);
    } finally {
      await loop.stop(1_000);
    }
  }, 30_000);

  it("retries recording an effect while the server restarts instead of failing the step", async () => {
    let executions = 0;
    let restarted: Promise<void> | undefined;
    const appendEffect = defineTool({
      name: "append_effect",
      description: "Appends a line somewhere (a side effect); the broker dies as it returns.",
      input: z.object({ line: z.string() }),
      timeoutMs: 5_000,
      riskTier: "write",
      idempotent: false,
      async execute(args) {
        executions++;
        // The effect has happened; the ledger records it while the server is down for 6 s.
        restarted = restartIn(6_000);
        await sleep(100);
        return { appended: args.line };
      },
    });
    const registry = new ToolRegistry([appendEffect]);
    const ledger = await KvEffectLedger.open(nc, "replica-a", { logger });
    const ctx = { signal: new AbortController().signal, taskId: "restart-effect", stepId: "append", inputs: {} };
    const call = { tool: "append_effect", args: { line: "hello" } };
    const result = await executeToolCall(registry, call, ctx, { effects: ledger });
    await restarted;
    expect(result).toMatchObject({ ok: true, output: { appended: "hello" } });
    // The step's redelivery, on another replica, replays the recorded output.
    const again = await executeToolCall(registry, call, ctx, { effects: await KvEffectLedger.open(nc, "replica-b") });
    expect(again).toMatchObject({ ok: true, output: { appended: "hello" }, replayed: true });
    expect(executions).toBe(1);
  }, 60_000);

  it("keeps a service process up when a request's timeout escapes as an unhandled rejection, and logs it", async () => {
    const script = join(ROOT, "test", "fixtures", "services", "unhandled-rejection.ts");
    const transient = spawnLogged(script, "rejection-timeout", { NATS_URL: nats.url, REJECT_WITH: "timeout", LOG_LEVEL: "info" });
    const line = await transient.waitForLog((l) => l.msg === "unhandled rejection", 30_000);
    expect(line).toMatchObject({ level: 50, unhandled: true, transient: true, err: { type: "TimeoutError" } });
    await transient.waitForLog((l) => l.msg === "still running", 10_000);
    transient.process.kill("SIGTERM");
    expect(await transient.exited).toEqual({ code: 0, signal: null });
    // Anything else is a bug: logged as fatal, then the service stops (exit 1), as Node would.
    const bug = spawnLogged(script, "rejection-bug", { NATS_URL: nats.url, REJECT_WITH: "bug", LOG_LEVEL: "info" });
    await bug.waitForLog((l) => l.msg === "unhandled rejection" && l.level === 60, 30_000);
    expect(await bug.exited).toEqual({ code: 1, signal: null });
    expect(bug.logs.some((l) => l.msg === "still running")).toBe(false);
  }, 60_000);
});
