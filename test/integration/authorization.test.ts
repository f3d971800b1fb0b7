import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Role, roleUser, subjects } from "@baton/contracts";
import { AuditTrail, parseViolation, readAudit, type StoredAuditRecord, watchViolations } from "@baton/audit";
import { connectNats, deploymentUsers, natsServerAvailable, openKv } from "@baton/core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgentCard } from "../support/agents.ts";
import { connectClient, type TestClient } from "../support/client.ts";
import { ROOT, startStack, type TestStack } from "../support/services.ts";

// Authorization on the bus, against a real nats-server with the deployment `baton up` makes:
// anonymous connections are refused, and every role is denied outside its own subjects — the
// server's permission violation, observed by the client that tried.

const enc = new TextEncoder();

/** Publishes as a request (so the server's answer — an ack or a permission violation — comes back). */
async function attempt(nc: NatsConnection, subject: string, payload = "{}"): Promise<"allowed" | "denied"> {
  try {
    await nc.request(subject, enc.encode(payload), { timeout: 1_500 });
    return "allowed";
  } catch (error) {
    const text = String(error);
    if (/Permissions Violation for Publish/.test(text)) return "denied";
    // No responder or a timeout: the publish itself went through.
    if (/503|no responders|timeout/i.test(text)) return "allowed";
    throw error;
  }
}

/** Subscribes and waits for the server's verdict on the subscription. */
async function attemptSubscribe(nc: NatsConnection, subject: string): Promise<"allowed" | "denied"> {
  const verdict = new Promise<"denied">((resolve) => {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "error" && String(s.error).includes(`Permissions Violation for Subscription to "${subject}"`))
          return resolve("denied");
      }
    })();
  });
  const sub = nc.subscribe(subject);
  await nc.flush();
  const result = await Promise.race([verdict, new Promise<"allowed">((r) => setTimeout(() => r("allowed"), 500))]);
  sub.unsubscribe();
  return result;
}

describe.skipIf(!natsServerAvailable())("authorization on the bus", () => {
  let stack: TestStack;
  let operator: TestClient;
  const conns: NatsConnection[] = [];

  async function as(role: Role): Promise<NatsConnection> {
    const nc = await connectNats(stack.nats.url, `test-${roleUser(role)}`, undefined, { credsFile: await stack.credentials(role) });
    conns.push(nc);
    return nc;
  }

  beforeAll(async () => {
    stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent"] });
    operator = await connectClient(stack.nats.url);
    // Registered, never running: its steps wait in BATON_WORK, where forgers may try to answer them.
    await registerAgentCard(operator.nc, { agent: "data", tools: [{ name: "sql_query", inputSchema: { type: "object" } }] });
  });
  afterAll(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await operator?.close();
    await stack?.stop();
  });

  it("refuses anonymous connections and connections with credentials it did not issue", async () => {
    await expect(connect({ servers: stack.nats.url, reconnect: false })).rejects.toThrow(/Authorization Violation/);
    const other = mkdtempSync(join(tmpdir(), "baton-other-auth-"));
    try {
      const cli = spawnSync(process.execPath, [join(ROOT, "cli", "src", "main.ts"), "auth", "init", "--dir", other], { encoding: "utf8" });
      expect(cli.status).toBe(0);
      const foreign = join(other, "creds", "operator.creds");
      await expect(connectNats(stack.nats.url, "foreign", undefined, { credsFile: foreign })).rejects.toThrow(/Authorization Violation/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it("a client may submit and follow tasks, but not forge results, outcomes or work, nor touch streams and buckets", async () => {
    const client = await as({ kind: "client" });
    expect(await attempt(client, subjects.submit, JSON.stringify({ goal: "x" }))).toBe("allowed");
    for (const forged of [
      subjects.result("code", "t1", "s1"),
      subjects.completed("t1"),
      subjects.failed("t1"),
      subjects.work("code", "t1", "s1"),
      subjects.synthesis("t1"),
      subjects.taskEvents("t1"),
      subjects.agentEvents("t1", "code"),
      subjects.rejected,
      "$KV.baton_tasks.t1",
      "$KV.baton_agents.code",
      "$JS.API.STREAM.PURGE.BATON_WORK",
      "$JS.API.STREAM.DELETE.BATON_EVENTS",
      "$JS.API.STREAM.DELETE.KV_baton_tasks",
      "$JS.API.CONSUMER.DELETE.BATON_WORK.code-agent",
      "$JS.API.CONSUMER.MSG.NEXT.BATON_WORK.code-agent",
      "dlq.BATON_WORK.code-agent.1",
    ]) {
      expect(await attempt(client, forged), forged).toBe("denied");
    }
    expect(await attemptSubscribe(client, subjects.workAll)).toBe("denied");
    expect(await attemptSubscribe(client, "_INBOX.supervisor.>")).toBe("denied");
  });

  it("an agent's workers may report only their own steps, and cannot take another agent's work or speak for the control plane", async () => {
    const code = await as({ kind: "agent", agent: "code" });
    expect(await attempt(code, subjects.result("code", "t1", "s1"))).toBe("allowed");
    expect(await attempt(code, subjects.agentEvents("t1", "code"))).toBe("allowed");
    expect(await attempt(code, "$KV.baton_agents.code")).toBe("allowed");
    for (const forged of [
      subjects.result("data", "t1", "s1"),
      subjects.agentEvents("t1", "data"),
      subjects.taskEvents("t1"),
      subjects.completed("t1"),
      subjects.work("data", "t1", "s1"),
      "$KV.baton_agents.data",
      "$KV.baton_agent_replicas.data.x",
      "$KV.baton_tasks.t1",
      "$JS.API.CONSUMER.MSG.NEXT.BATON_WORK.data-agent",
      "$JS.API.CONSUMER.CREATE.BATON_WORK.data-agent.work.data.>",
      "$JS.API.STREAM.DELETE.BATON_WORK",
      "$JS.API.STREAM.UPDATE.BATON_WORK",
    ]) {
      expect(await attempt(code, forged), forged).toBe("denied");
    }
  });

  it("the supervisor and the synthesizer stay within their own subjects and cannot delete streams", async () => {
    const supervisor = await as({ kind: "supervisor" });
    const synthesizer = await as({ kind: "synthesizer" });
    for (const forged of [
      "$JS.API.STREAM.DELETE.BATON_WORK",
      "$JS.API.STREAM.PURGE.BATON_EVENTS",
      "$KV.baton_agents.code",
      subjects.completed("t1"),
    ]) {
      expect(await attempt(supervisor, forged), forged).toBe("denied");
    }
    for (const forged of [
      subjects.work("code", "t1", "s1"),
      "$JS.API.STREAM.DELETE.BATON_OUTCOMES",
      subjects.submit,
      "$KV.baton_agents.code",
    ]) {
      expect(await attempt(synthesizer, forged), forged).toBe("denied");
    }
  });

  it("the operator may purge and delete", async () => {
    const nc = await as({ kind: "operator" });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: "AUTHZ_SCRATCH", subjects: ["authz.scratch.>"] });
    await jetstream(nc).publish("authz.scratch.1", "x");
    expect((await jsm.streams.purge("AUTHZ_SCRATCH")).purged).toBe(1);
    expect(await jsm.streams.delete("AUTHZ_SCRATCH")).toBe(true);
  });

  it("ignores a result for a step from another agent's credentials, or without the dispatch's id", async () => {
    const taskId = `authz-forge-${Date.now()}`;
    await operator.submit({
      taskId,
      goal: "a step nobody runs",
      plan: { steps: [{ id: "rows", agent: "data", instruction: "x", toolCalls: [{ tool: "sql_query", args: { sql: "select 1" } }] }] },
    });
    const tasks = await openKv(operator.nc, { name: "baton_tasks", history: 1 });
    let dispatchId: string | undefined;
    await expect
      .poll(async () => {
        dispatchId = (await tasks.get(taskId))?.json<{ steps: Record<string, { dispatchId?: string }> }>().steps.rows?.dispatchId;
        return dispatchId;
      })
      .toBeTruthy();
    const forged = (agent: string, id: string) =>
      JSON.stringify({
        schemaVersion: 1,
        kind: "step",
        taskId,
        stepId: "rows",
        agent,
        dispatchId: id,
        status: "completed",
        output: { rows: [{ forged: true }] },
        toolCalls: [],
        attempt: 1,
        worker: "forger",
        startedAt: new Date().toISOString(),
        finishedAt: new Date().toISOString(),
        durationMs: 1,
        usage: { toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 },
      });
    const code = jetstream(await as({ kind: "agent", agent: "code" }));
    // Another agent's worker knows the dispatch id (the test read it), and its own subject is allowed:
    await code.publish(subjects.result("code", taskId, "rows"), forged("code", dispatchId ?? ""));
    // The step's own agent, without the id: a guess.
    const data = jetstream(await as({ kind: "agent", agent: "data" }));
    await data.publish(subjects.result("data", taskId, "rows"), forged("data", "guessed-dispatch-id"));
    // A payload naming the step's agent on another agent's subject.
    await code.publish(subjects.result("code", taskId, "rows"), forged("data", dispatchId ?? ""));
    await new Promise((r) => setTimeout(r, 1_000));
    const state = (await tasks.get(taskId))?.json<{ status: string; steps: Record<string, { status: string }> }>();
    expect(state?.status).toBe("running");
    expect(state?.steps.rows?.status).toBe("dispatched");
    const supervisor = stack.services.find((s) => s.name === "supervisor");
    expect(supervisor?.logs.some((l) => l.taskId === taskId && String(l.msg).includes("does not match its agent"))).toBe(true);
  });

  it("logs every violation on the server, with the user's key and the subject, and puts each on the audit ledger with the user's name", async () => {
    const logFile = join(stack.authDir ?? "", "..", "nats-server.log");
    const log = readFileSync(logFile, "utf8");
    expect(log).toMatch(/Publish Violation - .*Subject "\$JS\.API\.STREAM\.DELETE\.BATON_EVENTS"/);
    // As `baton up` does: the log's violations go to the ledger, named from the deployment's credentials.
    const trail = new AuditTrail(operator.js, { source: "operator", actor: "baton-stack" });
    const watch = watchViolations({ logFile, trail, users: () => deploymentUsers(stack.authDir ?? "") });
    await watch.stop();
    const logged = log.split("\n").filter((l) => parseViolation(l) !== undefined).length;
    expect(watch.recorded).toBe(logged);
    expect(logged).toBeGreaterThan(5);
    let records: StoredAuditRecord[] = [];
    for (let i = 0; i < 40 && records.length < logged; i++) {
      await new Promise((r) => setTimeout(r, 250));
      records = (await readAudit(operator.js)).filter((r) => r.record?.kind === "permission_violation");
    }
    expect(records).toHaveLength(logged);
    const details = records.map((r) => r.record?.details ?? {});
    expect(details).toContainEqual(
      expect.objectContaining({
        what: "publish",
        user: "agent-code",
        subject: subjects.result("data", "t1", "s1"),
        source: "nats-server log",
      }),
    );
    expect(details).toContainEqual(
      expect.objectContaining({ what: "publish", user: "client", subject: "$JS.API.STREAM.DELETE.BATON_EVENTS" }),
    );
    // The refused connections (anonymous, foreign credentials) are there too.
    expect(details.filter((d) => d["what"] === "connect").map((d) => d["client"])).toEqual(["v3.4.0:nats.js", "v3.4.0:nats.js:foreign"]);
    // No service of a healthy stack trips a permission: every other violation came from a test's attempt.
    expect(details.filter((d) => d["what"] !== "connect" && !(typeof d["client"] === "string" && d["client"].includes(":test-")))).toEqual(
      [],
    );
  });

  it("writes a server config bound to loopback unless told otherwise", () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-auth-init-"));
    try {
      const init = (args: string[]) =>
        spawnSync(process.execPath, [join(ROOT, "cli", "src", "main.ts"), "auth", "init", "--dir", dir, ...args], { encoding: "utf8" });
      expect(init([]).status).toBe(0);
      let config = readFileSync(join(dir, "nats-server.conf"), "utf8");
      expect(config).toMatch(/^listen: 127\.0\.0\.1:4222$/m);
      expect(config).toMatch(/^http: 127\.0\.0\.1:8222$/m);
      expect(config).toMatch(/^operator: /m);
      expect(init(["--listen", "0.0.0.0:4222"]).status).toBe(0);
      config = readFileSync(join(dir, "nats-server.conf"), "utf8");
      expect(config).toMatch(/^listen: 0\.0\.0\.0:4222$/m);
      const creds = spawnSync("ls", [join(dir, "creds")], { encoding: "utf8" })
        .stdout.split("\n")
        .filter(Boolean)
        .sort();
      expect(creds).toEqual(
        expect.arrayContaining([
          "agent-code.creds",
          "agent-data.creds",
          "client.creds",
          "operator.creds",
          "supervisor.creds",
          "synthesizer.creds",
        ]),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
