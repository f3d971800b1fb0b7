import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentRegistry, natsServerAvailable } from "@baton/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { type LoggedProcess, ROOT, spawnLogged, startStack, type TestStack } from "../support/services.ts";

// A worker agent written in another language from the README's "The worker protocol" alone:
// examples/workers/go (Go, the NATS Go client from Debian, no SDK). It is built here, started as a
// real process beside the built-in services, and has to register, heartbeat, take steps from its
// own durable, report results and settle its messages (ack, nak with a delay, term) as the README
// says, in plans mixed with a built-in agent.

const WORKER_SOURCES = join(ROOT, "examples", "workers", "go");
// Debian's golang-github-nats-io-go-nats-dev: the worker builds in GOPATH mode against it (no module proxy).
const DEBIAN_GOCODE = "/usr/share/gocode";
const NATS_GO = join(DEBIAN_GOCODE, "src", "github.com", "nats-io", "nats.go", "js.go");
// The worker creates its durable with this ack_wait, so a 5 s step outlasts it 2.5 times.
const ACK_WAIT_MS = 2_000;

function goAvailable(): boolean {
  const result = spawnSync("go", ["version"], { encoding: "utf8" });
  return result.status === 0 && existsSync(NATS_GO);
}

const canRun = natsServerAvailable() && goAvailable();

type LogLine = Record<string, unknown> & { msg?: string; taskId?: string; stepId?: string; delivery?: number; action?: string };

/** The Go worker as a child process, its JSON log lines (stdout) collected. */
interface GoWorker extends LoggedProcess {
  /** Log lines of one task with a given message. */
  linesOf(taskId: string, msg: string): LogLine[];
}

function startGoWorker(binary: string, env: Record<string, string>): GoWorker {
  const logged = spawnLogged("", "go worker", env, binary);
  return { ...logged, linesOf: (taskId, msg) => (logged.logs as LogLine[]).filter((l) => l.taskId === taskId && l.msg === msg) };
}

/** The reference of word_stats's definitions (its card's description), computed independently here. */
function expectedWordStats(text: string) {
  const words = text.match(/[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*/gu) ?? [];
  let sentences = 0;
  let afterLast = 0;
  for (const m of text.matchAll(/[.!?]+(?=\s|$)/g)) {
    sentences++;
    afterLast = m.index + m[0].length;
  }
  if (/[\p{L}\p{N}]/u.test(text.slice(afterLast))) sentences++;
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w.toLowerCase(), (counts.get(w.toLowerCase()) ?? 0) + 1);
  const topWords = [...counts.entries()]
    .map(([word, count]) => ({ word, count }))
    .sort((a, b) => b.count - a.count || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0))
    .slice(0, 5);
  const lines = text === "" ? 0 : (text.match(/\n/g)?.length ?? 0) + (text.endsWith("\n") ? 0 : 1);
  return { characters: Array.from(text).length /* code points */, words: words.length, sentences, lines, topWords };
}

/** Real prose from the machine: the first paragraphs of the GPL-3 preamble (Debian's base-files), else this README's introduction. */
function realText(): { source: string; text: string } {
  const gpl = "/usr/share/common-licenses/GPL-3";
  if (existsSync(gpl)) {
    const all = readFileSync(gpl, "utf8");
    const start = all.indexOf("  The GNU General Public License is a free");
    const end = all.indexOf("  To protect your rights");
    if (start >= 0 && end > start) return { source: gpl, text: all.slice(start, end).trim() };
  }
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const intro = readme.split("\n\n")[1] ?? readme;
  return { source: "README.md", text: intro };
}

describe.skipIf(!canRun)("a worker in Go, written from the README's worker protocol alone, joins a running Baton", () => {
  let workDir: string;
  let binary: string;
  let stack: TestStack;
  let client: TestClient;
  let registry: AgentRegistry;
  let worker: GoWorker;
  let second: GoWorker | undefined;
  /** The credentials minted for its agent type (user agent-textstats). */
  let creds: string;
  let instanceId: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "baton-go-worker-"));
    binary = join(workDir, "textstats");
    const build = spawnSync("go", ["build", "-o", binary, "."], {
      cwd: WORKER_SOURCES,
      encoding: "utf8",
      timeout: 120_000,
      env: {
        ...process.env,
        GO111MODULE: "off",
        GOPATH: `${join(workDir, "gopath")}:${DEBIAN_GOCODE}`,
        GOCACHE: join(workDir, "gocache"),
        GOFLAGS: "",
      },
    });
    if (build.status !== 0) throw new Error(`go build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`);
    stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent"] });
    client = await connectClient(stack.nats.url);
    registry = await AgentRegistry.open(client.nc);
    creds = (await stack.credentials({ kind: "agent", agent: "textstats" })) ?? "";
    worker = startGoWorker(binary, { NATS_URL: stack.nats.url, NATS_CREDS: creds, WORK_ACK_WAIT_MS: String(ACK_WAIT_MS) });
    const ready = await worker.waitForLog((l) => l.msg === "worker ready", 30_000);
    instanceId = String(ready.instanceId);
  }, 180_000);

  afterAll(async () => {
    registry?.close();
    for (const w of [worker, second])
      if (w && w.process.exitCode === null && w.process.signalCode === null) {
        w.process.kill("SIGTERM");
        await w.exited;
      }
    await client?.close();
    await stack?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("registers its card with both tools and one live replica, and the supervisor validates plans against it", async () => {
    const agent = await registry.lookup("textstats");
    expect(agent?.card).toMatchObject({ agent: "textstats", version: "1.0.0", llm: false });
    const tools = agent?.card.tools ?? [];
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["word_stats", "sha256"]));
    for (const name of ["word_stats", "sha256"])
      expect(tools.find((t) => t.name === name)).toMatchObject({
        riskTier: "compute",
        idempotent: true,
        inputSchema: { type: "object", required: ["text"], properties: { text: { type: "string" } } },
      });
    await expect.poll(() => registry.liveReplicas("textstats").length, { timeout: 10_000 }).toBe(1);
    expect(registry.liveReplicas("textstats")[0]).toMatchObject({ agent: "textstats", instanceId, version: "1.0.0" });

    // The card's input schema is what the supervisor checks literal arguments against.
    await client.submit({
      taskId: "go-literal-bad-args",
      goal: "bad literal arguments",
      plan: { steps: [{ id: "a", agent: "textstats", instruction: "x", toolCalls: [{ tool: "word_stats", args: { text: 5 } }] }] },
    });
    const rejection = await client.waitForRejection((r) => r.taskId === "go-literal-bad-args");
    expect(rejection.error.code).toBe("INVALID_ARGUMENTS");
    expect(rejection.error.issues?.map((i) => i.path)).toEqual(["plan.steps.0.toolCalls.0.args.text"]);
  });

  it("runs its tools on real text in a plan mixed with the built-in code agent, which uses its output", async () => {
    const { source, text } = realText();
    const expected = expectedWordStats(text);
    const taskId = `go-stats-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: `Statistics of ${source}`,
      plan: {
        steps: [
          { id: "stats", agent: "textstats", instruction: "Count the words", toolCalls: [{ tool: "word_stats", args: { text } }] },
          { id: "digest", agent: "textstats", instruction: "Fingerprint the text", toolCalls: [{ tool: "sha256", args: { text } }] },
          {
            id: "double",
            agent: "code",
            instruction: "Twice the word count",
            dependsOn: ["stats"],
            toolCalls: [
              { tool: "evaluate_expression", args: { expression: "w * 2", scope: { w: { $fromStep: "stats", path: "/words" } } } },
            ],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status, JSON.stringify(outcome.value)).toBe("completed");
    if (outcome.status !== "completed") return;
    const byId = Object.fromEntries(outcome.value.steps.map((s) => [s.stepId, s]));
    expect(expected.words).toBeGreaterThan(50);
    expect(byId.stats?.output).toEqual(expected);
    expect(byId.stats).toMatchObject({ status: "completed", agent: "textstats", worker: instanceId, attempt: 1 });
    expect(byId.stats?.toolCalls[0]).toMatchObject({ tool: "word_stats", ok: true });
    expect(byId.digest?.output).toEqual({
      sha256: createHash("sha256").update(text, "utf8").digest("hex"),
      bytes: Buffer.byteLength(text, "utf8"),
    });
    expect(byId.double?.output).toMatchObject({ result: expected.words * 2 });
    // The optional events of the Go worker reach the task's progress, in order.
    const ofStats = events.filter((e) => "stepId" in e && e.stepId === "stats").map((e) => e.type);
    expect(ofStats).toEqual(expect.arrayContaining(["step.dispatched", "step.started", "step.completed"]));
    expect(ofStats.indexOf("step.started")).toBeLessThan(ofStats.indexOf("step.completed"));
    expect(events.find((e) => e.type === "step.started" && e.stepId === "stats")).toMatchObject({ worker: instanceId, attempt: 1 });
    console.log(
      `go worker: word_stats of ${source} (${expected.words} words, ${expected.sentences} sentences) + sha256 + code step: ` +
        `${outcome.value.timings.durationMs.toFixed(0)} ms end to end`,
    );
  });

  it("fails a step whose resolved arguments are invalid with INVALID_ARGUMENTS, and terms it (no redelivery)", async () => {
    const taskId = `go-bad-args-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "a number where text is expected",
      plan: {
        steps: [
          {
            id: "num",
            agent: "code",
            instruction: "a number",
            toolCalls: [{ tool: "evaluate_expression", args: { expression: "6 * 7" } }],
          },
          {
            id: "bad",
            agent: "textstats",
            instruction: "count the words of a number",
            dependsOn: ["num"],
            toolCalls: [{ tool: "word_stats", args: { text: { $fromStep: "num", path: "/result" } } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    // The task's error is STEP_FAILED wrapping the failed step's own error.
    expect(outcome.value).toMatchObject({ failedStep: "bad", error: { code: "STEP_FAILED" } });
    expect(outcome.value.error.message).toContain("INVALID_ARGUMENTS: invalid arguments: args.text: expected string, received number");
    const bad = outcome.value.steps.find((s) => s.stepId === "bad");
    expect(bad).toMatchObject({ status: "failed", worker: instanceId, attempt: 1, error: { code: "INVALID_ARGUMENTS", retryable: false } });
    expect(bad?.error?.issues).toEqual([{ path: "args.text", message: "expected string, received number" }]);
    expect(bad?.toolCalls[0]).toMatchObject({ tool: "word_stats", ok: false, args: { text: 42 } });
    await worker.waitForLog((l) => l.taskId === taskId && l.msg === "step settled");
    expect(worker.linesOf(taskId, "step settled").map((l) => l.action)).toEqual(["term"]);
    // Past one more ack_wait, the termed message has not come back and nothing is pending.
    await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 1_000));
    expect(worker.linesOf(taskId, "step received").map((l) => l.delivery)).toEqual([1]);
    expect(events.filter((e) => e.type === "step.started" && e.stepId === "bad")).toHaveLength(1);
    expect(events.find((e) => e.type === "step.failed" && e.stepId === "bad")).toMatchObject({ error: { code: "INVALID_ARGUMENTS" } });
    const consumer = await (await jetstreamManager(client.nc)).consumers.info("BATON_WORK", "textstats-agent");
    expect(consumer).toMatchObject({ num_ack_pending: 0, num_pending: 0 });
  });

  it("naks a retryable failure with a delay: flaky with failTimes 1 completes on the 2nd delivery, still attempt 1", async () => {
    const taskId = `go-flaky-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "fail once, then succeed",
      plan: { steps: [{ id: "flaky", agent: "textstats", instruction: "flaky", toolCalls: [{ tool: "flaky", args: { failTimes: 1 } }] }] },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status, JSON.stringify(outcome.value)).toBe("completed");
    const step = outcome.value.steps.find((s) => s.stepId === "flaky");
    expect(step).toMatchObject({ status: "completed", attempt: 1, output: { delivery: 2, failTimes: 1 } });
    await worker.waitForLog((l) => l.taskId === taskId && l.msg === "step settled" && l.delivery === 2);
    expect(worker.linesOf(taskId, "step received").map((l) => l.delivery)).toEqual([1, 2]);
    expect(worker.linesOf(taskId, "step settled").map((l) => [l.delivery, l.action])).toEqual([
      [1, "nak"],
      [2, "ack"],
    ]);
    expect(events.find((e) => e.type === "step.retrying")).toMatchObject({
      stepId: "flaky",
      delivery: 1,
      error: { code: "TOOL_FAILED", retryable: true },
    });
    expect(events.filter((e) => e.type === "step.started")).toHaveLength(2);
    expect(events.some((e) => e.type === "step.failed")).toBe(false);
  });

  it("reports a retryable failure on the last attempt of the step's retry policy and acks it", async () => {
    const taskId = `go-flaky-exhausted-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "fail more often than the retry policy allows",
      plan: {
        steps: [
          {
            id: "flaky",
            agent: "textstats",
            instruction: "flaky",
            retry: { maxAttempts: 2, initialDelayMs: 50, maxDelayMs: 100 },
            toolCalls: [{ tool: "flaky", args: { failTimes: 5 } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.steps.find((s) => s.stepId === "flaky")).toMatchObject({
      status: "failed",
      attempt: 1,
      error: { code: "TOOL_FAILED", retryable: true },
    });
    await worker.waitForLog((l) => l.taskId === taskId && l.msg === "step settled" && l.delivery === 2);
    expect(worker.linesOf(taskId, "step settled").map((l) => [l.delivery, l.action])).toEqual([
      [1, "nak"],
      [2, "ack"],
    ]);
  });

  it("honours the step's timeoutMs: TOOL_TIMEOUT, retryable, reported on the last attempt", async () => {
    const taskId = `go-timeout-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "a step past its timeout",
      plan: {
        steps: [
          {
            id: "slow",
            agent: "textstats",
            instruction: "hold too long",
            timeoutMs: 300,
            retry: { maxAttempts: 1 },
            toolCalls: [{ tool: "flaky", args: { failTimes: 0, holdMs: 10_000 } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 10_000);
    expect(outcome.status).toBe("failed");
    expect(outcome.value.steps[0]).toMatchObject({ status: "failed", error: { code: "TOOL_TIMEOUT", retryable: true } });
    expect(outcome.value.steps[0]?.durationMs).toBeLessThan(2_000);
    await worker.waitForLog((l) => l.taskId === taskId && l.msg === "step settled");
    expect(worker.linesOf(taskId, "step settled").map((l) => l.action)).toEqual(["ack"]);
  });

  it(`keeps the lease of a step ${(2.5 * ACK_WAIT_MS) / 1000} s long (ack_wait ${ACK_WAIT_MS / 1000} s) with working() heartbeats`, async () => {
    const taskId = `go-long-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "a long step",
      plan: {
        steps: [
          {
            id: "long",
            agent: "textstats",
            instruction: "hold",
            toolCalls: [{ tool: "flaky", args: { failTimes: 0, holdMs: 2.5 * ACK_WAIT_MS } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("completed");
    expect(outcome.value.steps[0]).toMatchObject({ output: { delivery: 1, heldMs: 2.5 * ACK_WAIT_MS } });
    expect(worker.linesOf(taskId, "step received").map((l) => l.delivery)).toEqual([1]);
  });

  it("stops a step whose task is cancelled (baton.control.abort.<taskId>), reports nothing and acks", async () => {
    const taskId = `go-cancel-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "to be cancelled",
      plan: {
        steps: [
          { id: "long", agent: "textstats", instruction: "hold", toolCalls: [{ tool: "flaky", args: { failTimes: 0, holdMs: 60_000 } }] },
        ],
      },
    });
    await expect.poll(() => events.some((e) => e.type === "step.started"), { timeout: 10_000 }).toBe(true);
    await client.js.publish("tasks.cancel", JSON.stringify({ taskId, reason: "test" }));
    const outcome = await client.outcome(taskId, 10_000);
    expect(outcome.status === "failed" && outcome.value.error.code).toBe("CANCELLED");
    await worker.waitForLog((l) => l.taskId === taskId && l.msg === "step aborted", 5_000);
    expect(worker.linesOf(taskId, "step settled").map((l) => l.action)).toEqual(["ack"]);
    expect(events.some((e) => e.type === "step.completed" || e.type === "step.failed")).toBe(false);
  });

  it("shares the durable with a second replica: two live replicas", async () => {
    second = startGoWorker(binary, { NATS_URL: stack.nats.url, NATS_CREDS: creds, WORK_ACK_WAIT_MS: String(ACK_WAIT_MS) });
    const ready = await second.waitForLog((l) => l.msg === "worker ready", 30_000);
    expect(ready).toMatchObject({ durable: "textstats-agent", ackWaitMs: ACK_WAIT_MS });
    await expect
      .poll(
        () =>
          registry
            .liveReplicas("textstats")
            .map((r) => r.instanceId)
            .sort(),
        { timeout: 10_000 },
      )
      .toEqual([instanceId, String(ready.instanceId)].sort());
  });

  it("on SIGTERM deletes its replica record at once, finishes its in-flight step, exits 0; the card stays", async () => {
    const taskId = `go-sigterm-${Date.now()}`;
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "a step in flight during SIGTERM",
      plan: {
        steps: [
          { id: "long", agent: "textstats", instruction: "hold", toolCalls: [{ tool: "flaky", args: { failTimes: 0, holdMs: 1_500 } }] },
        ],
      },
    });
    await expect.poll(() => events.some((e) => e.type === "step.started"), { timeout: 10_000 }).toBe(true);
    // The replica that took the step (either may have) is the one stopped.
    const started = events.find((e) => e.type === "step.started");
    const busyId = started && "worker" in started ? started.worker : undefined;
    const busy = busyId === instanceId ? worker : second;
    if (!busy || !busyId) throw new Error("no replica took the step");
    const stoppedAt = Date.now();
    busy.process.kill("SIGTERM");
    await expect
      .poll(() => registry.liveReplicas("textstats").some((r) => r.instanceId === busyId), { timeout: 5_000, interval: 25 })
      .toBe(false);
    const goneAfterMs = Date.now() - stoppedAt;
    const outcome = await client.outcome(taskId, 10_000);
    expect(outcome.status).toBe("completed");
    expect(outcome.value.steps[0]).toMatchObject({ worker: busyId, output: { delivery: 1, heldMs: 1_500 } });
    expect(await busy.exited).toEqual({ code: 0, signal: null });
    const exitedAfterMs = Date.now() - stoppedAt;
    console.log(
      `go worker: replica record gone ${goneAfterMs} ms after SIGTERM; in-flight step finished, exit 0 after ${exitedAfterMs} ms`,
    );
    expect(goneAfterMs).toBeLessThan(1_000);
    expect(registry.liveReplicas("textstats")).toHaveLength(1);
    expect((await registry.lookup("textstats"))?.card.agent).toBe("textstats");
  });
});
