import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AuditChainer,
  AuditTrail,
  canonicalJson,
  readAudit,
  readStream,
  recordHash,
  type RunningAuditChainer,
  startAuditChainer,
  verifyAudit,
} from "@baton/audit";
import { AUDIT_CHAINER_CONSUMER, AUDIT_IN_STREAM, AUDIT_STREAM, type AuditRecord, type AuditSource, auditSubjects } from "@baton/contracts";
import {
  BaseServiceEnv,
  type LocalNatsServer,
  loadConfig,
  natsServerAvailable,
  provisionAll,
  type ServiceContext,
  startLocalNatsServer,
  startService,
} from "@baton/core";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runBaton } from "../support/cli.ts";
import { ROOT, startStack, type TestStack } from "../support/services.ts";

// The audit ledger against a real nats-server: producers in several processes and connections,
// chainers in-process (two at once), redeliveries, the server's refusal to delete, tampered copies,
// retention, and the CLI against a real supervisor process. No mocks.

const DAY_NS = 86_400_000 * 1e6;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs test/support/audit-producer.ts in its own process; resolves with the ids it published. */
function producerProcess(url: string, source: AuditSource, producer: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "test", "support", "audit-producer.ts"), url, source, producer, String(count)], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) reject(new Error(`producer ${producer} exited ${code}: ${stderr}`));
      else resolve((JSON.parse(stdout) as { ids: string[] }).ids);
    });
  });
}

/** Publishes `count` entries from one trail (fire and forget), then waits for their acks. */
async function produce(trail: AuditTrail, producer: string, count: number, taskId?: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push(trail.record({ kind: "tool_call", ...(taskId ? { taskId } : {}), details: { producer, n } }));
  await trail.flush(30_000);
  return ids;
}

function records(stored: Awaited<ReturnType<typeof readAudit>>): AuditRecord[] {
  return stored.map((s) => {
    if (!s.record) throw new Error(`seq ${s.seq} is not a record: ${s.problem}`);
    return s.record;
  });
}

async function chainLength(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info(AUDIT_STREAM.name)).state.messages;
}

/**
 * Copies BATON_AUDIT into a new stream `name` (limits, no deny flags, subjects `<prefix>.>`),
 * message by message in order, after `edit` had its say on the list (alter, drop, …): the
 * realistic way to tamper with a ledger that refuses deletes.
 */
async function copyLedger(
  js: JetStreamClient,
  jsm: JetStreamManager,
  name: string,
  edit: (recs: Record<string, unknown>[]) => Record<string, unknown>[] = (r) => r,
): Promise<void> {
  const prefix = name.toLowerCase();
  await jsm.streams.add({ name, subjects: [`${prefix}.>`], retention: RetentionPolicy.Limits, storage: StorageType.File });
  const raw: Record<string, unknown>[] = [];
  for await (const m of readStream(js, AUDIT_STREAM.name)) raw.push(m.json());
  for (const r of edit(raw)) await js.publish(`${prefix}.log`, canonicalJson(r));
}

describe.skipIf(!natsServerAvailable())("audit ledger: chainers, producers, tampering", () => {
  let storeDir: string;
  let server: LocalNatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const services: ServiceContext[] = [];
  const chainers: RunningAuditChainer[] = [];
  /** Every entry id published so far, in the order each producer published them. */
  const published: string[] = [];

  async function chainerService(name: string, options: Parameters<typeof startAuditChainer>[1] = {}): Promise<RunningAuditChainer> {
    const service = await startService(name, loadConfig(BaseServiceEnv, { NATS_URL: server.url, LOG_LEVEL: "silent" }), {
      handleSignals: false,
      provision: "create",
    });
    services.push(service);
    const chainer = await startAuditChainer(service, options);
    chainers.push(chainer);
    return chainer;
  }

  async function stopChainers(): Promise<void> {
    await Promise.all(chainers.splice(0).map((c) => c.stop(2_000)));
  }

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), "baton-audit-"));
    server = await startLocalNatsServer({ storeDir });
    nc = await connect({ servers: server.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await stopChainers();
    for (const s of services) await s.shutdown("test over");
    await nc?.close();
    await server?.stop();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it("concurrent producers in several processes and connections: one chainer builds a complete, ordered chain", async () => {
    const chainer = await chainerService("audit-chainer-a");
    const connections = await Promise.all([0, 1].map(() => connect({ servers: server.url })));
    const started = Date.now();
    const batches = await Promise.all([
      producerProcess(server.url, "agent.data", "proc-1", 150),
      producerProcess(server.url, "synthesizer", "proc-2", 150),
      ...connections.map((c, i) => produce(new AuditTrail(jetstream(c), { source: "supervisor", actor: `conn-${i}` }), `conn-${i}`, 150)),
    ]);
    for (const c of connections) await c.close();
    const total = batches.reduce((n, b) => n + b.length, 0);
    await waitFor("the chain to hold every entry", async () => (await chainLength(jsm)) === total);
    const elapsed = Date.now() - started;

    const chain = records(await readAudit(js));
    expect(chain.map((r) => r.index)).toEqual(chain.map((_, i) => i));
    expect(new Set(chain.map((r) => r.id)).size).toBe(total);
    // Each producer's entries keep their order (one chainer, work-queue order).
    for (const batch of batches) {
      const position = new Map(chain.map((r, i) => [r.id, i]));
      const positions = batch.map((id) => position.get(id) ?? -1);
      expect(positions.every((p, i) => p >= 0 && (i === 0 || p > (positions[i - 1] ?? -1)))).toBe(true);
    }
    const sources = new Set(chain.map((r) => r.source));
    expect(sources).toEqual(new Set(["agent.data", "synthesizer", "supervisor"]));
    const verified = await verifyAudit(js);
    expect(verified).toMatchObject({ ok: true, checked: total, firstIndex: 0, lastIndex: total - 1, startsAfterExpiry: false });
    expect(chainer.chainer.stats).toMatchObject({ appended: total, dropped: 0 });
    published.push(...batches.flat());
    console.log(
      `audit: ${total} entries from 4 producers chained in ${elapsed} ms (${Math.round((total * 1000) / elapsed)}/s, one chainer)`,
    );
  });

  it("two chainers at once (separate connections) still build one valid chain", async () => {
    const second = await chainerService("audit-chainer-b");
    const first = chainers[0];
    if (!first) throw new Error("the first chainer is not running");
    const before = await chainLength(jsm);
    const connections = await Promise.all([0, 1, 2].map(() => connect({ servers: server.url })));
    const batches = await Promise.all(
      connections.map((c, i) => produce(new AuditTrail(jetstream(c), { source: "client", actor: `client-${i}` }), `client-${i}`, 100)),
    );
    for (const c of connections) await c.close();
    const total = before + batches.reduce((n, b) => n + b.length, 0);
    await waitFor("the chain to hold every entry", async () => (await chainLength(jsm)) === total);

    const chain = records(await readAudit(js));
    expect(chain).toHaveLength(total);
    expect(chain.map((r) => r.index)).toEqual(chain.map((_, i) => i));
    expect(new Set(chain.map((r) => r.id)).size).toBe(total);
    expect(await verifyAudit(js)).toMatchObject({ ok: true, checked: total });
    // Both appended; when they raced, the loser re-read the head and retried.
    expect(first.chainer.stats.appended).toBeGreaterThan(before);
    expect(second.chainer.stats.appended).toBeGreaterThan(0);
    console.log(`audit: two chainers: ${JSON.stringify(first.chainer.stats)} / ${JSON.stringify(second.chainer.stats)}`);
    published.push(...batches.flat());
  });

  it("invalid entries are dropped and logged, the source comes from the subject, and chaining goes on", async () => {
    const running = chainers.slice();
    const droppedBefore = running.reduce((n, c) => n + c.chainer.stats.dropped, 0);
    const before = await chainLength(jsm);
    await js.publish(auditSubjects.client, "{not json");
    await js.publish(auditSubjects.client, JSON.stringify({ schemaVersion: 1, id: randomUUID(), kind: "tool_call" }));
    await js.publish("audit.in.root", JSON.stringify(new AuditTrail(js, { source: "client", actor: "x" }).entry({ kind: "submission" })));
    // An agent that claims to be the supervisor in its payload is still recorded as the agent.
    const claimed = new AuditTrail(js, { source: "agent.research", actor: "supervisor" });
    const { id } = await claimed.publish({ kind: "approval_decided", taskId: "claims-1", details: { decision: "approved" } });
    await waitFor("the valid entry to be chained", async () => (await chainLength(jsm)) === before + 1);
    await waitFor("the input stream to be empty", async () => (await jsm.streams.info(AUDIT_IN_STREAM.name)).state.messages === 0);
    const [record] = records(await readAudit(js, { taskId: "claims-1" }));
    expect(record).toMatchObject({ id, source: "agent.research", actor: "supervisor", kind: "approval_decided" });
    expect(running.reduce((n, c) => n + c.chainer.stats.dropped, 0) - droppedBefore).toBe(3);
    expect((await verifyAudit(js)).ok).toBe(true);
  });

  it("a redelivered entry is not appended twice: within the duplicate window, and after it", async () => {
    await stopChainers();
    const logger = services[0]?.logger;
    if (!logger) throw new Error("no service");
    const trail = new AuditTrail(js, { source: "operator", actor: "ann" });
    const consumer = await js.consumers.get(AUDIT_IN_STREAM.name, AUDIT_CHAINER_CONSUMER.durable);
    const countOf = async (id: string) => records(await readAudit(js)).filter((r) => r.id === id).length;

    // Within the window: the record is appended, the entry's ack is lost (nak ≈ a crash before the
    // ack), the redelivery's append is a duplicate by its Nats-Msg-Id.
    const chainer = new AuditChainer(js, jsm, logger);
    const first = await trail.publish({ kind: "dlq_replay", details: { seq: 7 } });
    const m1 = await consumer.next({ expires: 5_000 });
    if (!m1) throw new Error("no delivery");
    await chainer.handle(m1);
    m1.nak();
    const m2 = await consumer.next({ expires: 5_000 });
    if (!m2) throw new Error("no redelivery");
    expect(m2.info.deliveryCount).toBe(2);
    await chainer.handle(m2);
    m2.ack();
    expect(chainer.stats).toMatchObject({ appended: 1, duplicates: 1 });
    expect(await countOf(first.id)).toBe(1);

    // After the window (shrunk to 1 s here): the chainer finds the record in the chain instead.
    const config = (await jsm.streams.info(AUDIT_STREAM.name)).config;
    await jsm.streams.update(AUDIT_STREAM.name, { ...config, duplicate_window: nanos(1_000) });
    const late = new AuditChainer(js, jsm, logger, { lookupAfterMs: 0 });
    const second = await trail.publish({ kind: "dlq_purge", details: { count: 2 } });
    const n1 = await consumer.next({ expires: 5_000 });
    if (!n1) throw new Error("no delivery");
    await late.handle(n1);
    n1.nak();
    await new Promise((r) => setTimeout(r, 1_500));
    const n2 = await consumer.next({ expires: 5_000 });
    if (!n2) throw new Error("no redelivery");
    await late.handle(n2);
    n2.ack();
    expect(late.stats).toMatchObject({ appended: 1, duplicates: 1 });
    expect(await countOf(second.id)).toBe(1);
    await jsm.streams.update(AUDIT_STREAM.name, { ...config, duplicate_window: nanos(120_000) });
    expect((await verifyAudit(js)).ok).toBe(true);
  });

  it("the server refuses to delete a record, to purge the ledger, or to lift either refusal", async () => {
    const before = await jsm.streams.info(AUDIT_STREAM.name);
    expect(before.config).toMatchObject({ deny_delete: true, deny_purge: true });
    await expect(jsm.streams.deleteMessage(AUDIT_STREAM.name, 2)).rejects.toThrow(/message delete not permitted/);
    await expect(jsm.streams.deleteMessage(AUDIT_STREAM.name, 2, false)).rejects.toThrow(/message delete not permitted/);
    await expect(jsm.streams.purge(AUDIT_STREAM.name)).rejects.toThrow(/purge not permitted/);
    await expect(jsm.streams.update(AUDIT_STREAM.name, { ...before.config, deny_delete: false })).rejects.toThrow(/can not cancel deny/);
    await expect(jsm.streams.update(AUDIT_STREAM.name, { ...before.config, deny_purge: false })).rejects.toThrow(/can not cancel deny/);
    expect((await jsm.streams.info(AUDIT_STREAM.name)).state.messages).toBe(before.state.messages);
  });

  it("tampering with a copy is found at the first broken link", async () => {
    const intact = await verifyAudit(js);
    expect(intact.ok).toBe(true);
    const k = 123;

    await copyLedger(js, jsm, "AUDIT_COPY_INTACT");
    expect(await verifyAudit(js, { stream: "AUDIT_COPY_INTACT" })).toEqual(intact);

    await copyLedger(js, jsm, "AUDIT_COPY_EDITED", (recs) =>
      recs.map((r) => (r.index === k ? { ...r, details: { ...(r.details as object), n: 9999 } } : r)),
    );
    expect((await verifyAudit(js, { stream: "AUDIT_COPY_EDITED" })).firstBrokenAt).toMatchObject({
      index: k,
      seq: k + 1,
      reason: "hash_mismatch",
    });

    await copyLedger(js, jsm, "AUDIT_COPY_REHASHED", (recs) =>
      recs.map((r) => {
        if (r.index !== k) return r;
        const { hash: _hash, ...rest }: Record<string, unknown> = { ...r, actor: "nobody" };
        return { ...rest, hash: recordHash(rest) };
      }),
    );
    expect((await verifyAudit(js, { stream: "AUDIT_COPY_REHASHED" })).firstBrokenAt).toMatchObject({
      index: k + 1,
      seq: k + 2,
      reason: "prev_hash_mismatch",
    });

    await copyLedger(js, jsm, "AUDIT_COPY_REMOVED", (recs) => recs.filter((r) => r.index !== k));
    const removed = await verifyAudit(js, { stream: "AUDIT_COPY_REMOVED" });
    expect(removed).toMatchObject({ ok: false, checked: k + 1, firstBrokenAt: { index: k + 1, seq: k + 1, reason: "index_gap" } });

    // A whole chain rebuilt from an edited record on is consistent in itself: only an anchor kept
    // elsewhere (the head hash of an earlier verify) shows it.
    await copyLedger(js, jsm, "AUDIT_COPY_REBUILT", (recs) => {
      let prevHash: string | null = null;
      return recs.map((r) => {
        const { hash: _hash, ...rest } = r.index === k ? { ...r, actor: "nobody" } : r;
        const relinked = r.index === 0 ? rest : { ...rest, prevHash };
        const hash = recordHash(relinked);
        prevHash = hash;
        return { ...relinked, hash };
      });
    });
    expect((await verifyAudit(js, { stream: "AUDIT_COPY_REBUILT" })).ok).toBe(true);
    const anchors = [{ index: intact.lastIndex ?? 0, hash: intact.headHash ?? "" }];
    expect((await verifyAudit(js, { stream: "AUDIT_COPY_REBUILT", anchors })).firstBrokenAt).toMatchObject({ reason: "anchor_mismatch" });
  });

  it("retention: the chainer applies AUDIT_MAX_AGE_DAYS, other services' provisioning keeps it", async () => {
    await chainerService("audit-chainer-c", { maxAgeDays: 30 });
    expect((await jsm.streams.info(AUDIT_STREAM.name)).config.max_age).toBe(30 * DAY_NS);
    await provisionAll(nc); // what every other service does at start
    expect((await jsm.streams.info(AUDIT_STREAM.name)).config.max_age).toBe(30 * DAY_NS);
    await stopChainers();
    await chainerService("audit-chainer-d", { maxAgeDays: 400 });
    expect((await jsm.streams.info(AUDIT_STREAM.name)).config.max_age).toBe(400 * DAY_NS);
  });

  it("after every record expired, the chain goes on and verifies as starting after expiry", async () => {
    await stopChainers();
    const config = (await jsm.streams.info(AUDIT_STREAM.name)).config;
    await jsm.streams.update(AUDIT_STREAM.name, { ...config, max_age: nanos(1_000), duplicate_window: nanos(500) });
    await waitFor("every record to expire", async () => (await chainLength(jsm)) === 0, 15_000);
    const lastSeq = (await jsm.streams.info(AUDIT_STREAM.name)).state.last_seq;
    await jsm.streams.update(AUDIT_STREAM.name, { ...config });
    await chainerService("audit-chainer-e");
    const trail = new AuditTrail(js, { source: "operator", actor: "ann" });
    await trail.publish({ kind: "config_changed", details: { setting: "AUDIT_MAX_AGE_DAYS" } });
    await trail.publish({ kind: "config_changed", details: { setting: "other" } });
    await waitFor("two new records", async () => (await chainLength(jsm)) === 2);
    const chain = records(await readAudit(js));
    expect(chain[0]).toMatchObject({ index: lastSeq, prevHash: null });
    expect(chain[1]).toMatchObject({ index: lastSeq + 1, prevHash: chain[0]?.hash });
    expect(await verifyAudit(js)).toMatchObject({ ok: true, checked: 2, firstIndex: lastSeq, startsAfterExpiry: true });
  });
});

/** Runs the baton CLI against `natsUrl`. */
function cli(args: readonly string[], natsUrl: string): Promise<CliRun> {
  return runBaton(args, { natsUrl });
}

describe.skipIf(!natsServerAvailable())("audit ledger: the supervisor's chainer and the CLI", () => {
  let stack: TestStack;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;

  beforeAll(async () => {
    // Without authentication: the supervisor role's NATS permissions do not include the chainer's yet.
    stack = await startStack({ services: ["supervisor"], env: { AUDIT_MAX_AGE_DAYS: "30" }, auth: false });
    nc = await connect({ servers: stack.nats.url });
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
  });

  afterAll(async () => {
    await nc?.close();
    await stack?.stop();
  });

  it("baton audit <taskId> lists a task's records; baton audit verify checks the chain (exit 0 intact, 1 broken)", async () => {
    expect((await jsm.streams.info(AUDIT_STREAM.name)).config.max_age).toBe(30 * DAY_NS);
    const url = stack.nats.url;
    const taskId = `audit-cli-${Date.now()}`;
    const supervisor = new AuditTrail(js, { source: "supervisor", actor: "supervisor-test" });
    const worker = new AuditTrail(js, { source: "agent.data", actor: "data-agent-test" });
    await supervisor.publish({ kind: "submission", taskId, details: { steps: 2, planSource: "submission" } });
    await new AuditTrail(js, { source: "client", actor: "ann" }).publish({ kind: "submission", taskId: "another-task", details: {} });
    await worker.publish({
      kind: "tool_call",
      taskId,
      stepId: "rows",
      agent: "data",
      details: { tool: "sql_query", riskTier: "read", worker: "data-agent-test", argsSha256: "0".repeat(64), status: "ok", durationMs: 4 },
    });
    await worker.publish({
      kind: "tool_call",
      taskId,
      stepId: "wipe",
      agent: "data",
      details: { tool: "sql_query", riskTier: "read", status: "error", code: "TOOL_REFUSED", durationMs: 1, apiKey: "sk-should-not-show" },
    });
    await waitFor("the task's three records", async () => (await readAudit(js, { taskId })).length === 3, 30_000);

    const list = await cli(["audit", taskId], url);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^#\d+ {2}\S+Z {2}submission {2}supervisor\/supervisor-test {2}- {2}- {2}-$/);
    expect(lines[1]).toMatch(/^#\d+ {2}\S+Z {2}tool_call {2}agent\.data\/data-agent-test {2}step rows {2}tool sql_query {2}ok$/);
    expect(lines[2]).toMatch(/step wipe {2}tool sql_query {2}error TOOL_REFUSED$/);
    expect(list.stderr).toContain(`3 audit record(s) for task ${taskId}`);

    const json = await cli(["--json", "audit", taskId], url);
    expect(json.code).toBe(0);
    const rows = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; seq: number; record: AuditRecord });
    expect(rows.map((r) => r.kind)).toEqual(["audit_record", "audit_record", "audit_record"]);
    expect(rows.map((r) => r.record.kind)).toEqual(["submission", "tool_call", "tool_call"]);
    expect(rows[2]?.record.details.apiKey).toBe("[REDACTED]");
    expect(JSON.stringify(rows)).not.toContain("sk-should-not-show");

    expect((await cli(["audit", "no-such-task"], url)).code).toBe(3);
    expect((await cli(["audit", "bad.task"], url)).code).toBe(2);

    const verify = await cli(["audit", "verify"], url);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/BATON_AUDIT: chain ok, 4 record\(s\) verified \(index 0\.\.3\)/);
    const head = /head: index (\d+) hash ([0-9a-f]{64})/.exec(verify.stdout);
    expect(head).not.toBeNull();
    expect((await cli(["audit", "verify", "--anchor", `${head?.[1]}:${head?.[2]}`], url)).code).toBe(0);
    const wrongAnchor = await cli(["audit", "verify", "--anchor", `${head?.[1]}:${"f".repeat(64)}`], url);
    expect(wrongAnchor.code).toBe(1);
    expect(wrongAnchor.stdout).toContain("anchor_mismatch");
    expect((await cli(["audit", "verify", "--anchor", "3:nothex"], url)).code).toBe(2);

    // A copy whose second record was edited: verify points at it and exits 1.
    await copyLedger(js, jsm, "AUDIT_TAMPERED", (recs) =>
      recs.map((r) => (r.index === 1 ? { ...r, details: { ...(r.details as object), steps: 1 } } : r)),
    );
    const broken = await cli(["audit", "verify", "--stream", "AUDIT_TAMPERED"], url);
    expect(broken.code, broken.stdout + broken.stderr).toBe(1);
    expect(broken.stdout).toContain("AUDIT_TAMPERED: chain BROKEN at index 1 (stream seq 2): hash_mismatch");
    const brokenJson = await cli(["--json", "audit", "verify", "--stream", "AUDIT_TAMPERED"], url);
    expect(brokenJson.code).toBe(1);
    expect(JSON.parse(brokenJson.stdout)).toMatchObject({
      kind: "audit_verify",
      stream: "AUDIT_TAMPERED",
      ok: false,
      checked: 2,
      firstBrokenAt: { index: 1, seq: 2, reason: "hash_mismatch" },
    });
    expect((await cli(["audit", "verify", "--stream", "NO_SUCH_STREAM"], url)).stderr).toContain("no stream NO_SUCH_STREAM");
  });
});
