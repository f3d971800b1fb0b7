import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { type LocalNatsServer, startLocalNatsServer } from "@baton/core";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { cpuPerTask, cpuProbe, loadSnapshot, serviceRoles } from "./procfs.ts";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A private nats-server (JetStream, file storage in a fresh temp folder). */
export interface BenchNats {
  readonly server: LocalNatsServer;
  readonly url: string;
  stop(): Promise<void>;
}

export async function startNats(label: string): Promise<BenchNats> {
  const storeDir = mkdtempSync(join(tmpdir(), `baton-bench-${label}-`));
  const server = await startLocalNatsServer({ storeDir });
  return {
    server,
    url: server.url,
    async stop() {
      await server.stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** `nats-server --version`, e.g. "v2.9.10". */
export function natsServerVersion(): string {
  const out = spawnSync("nats-server", ["--version"], { encoding: "utf8" });
  return (out.stdout || out.stderr || "unknown").trim().replace(/^nats-server:\s*/, "");
}

/** A Node child process (a Baton service, a bench worker) with the tail of its output kept for diagnostics. */
export interface NodeProcess {
  readonly label: string;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has exited. */
  readonly done: boolean;
  /** Last lines of stdout and stderr. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; waits for exit. */
  stop(timeoutMs?: number): Promise<void>;
  /** SIGKILL (`kill -9`) and wait for exit. */
  kill(): Promise<void>;
}

/** Spawns `node <entry>` (a `.ts` file, run by Node's type stripping) with `env` on top of this process's environment. */
export function spawnNode(label: string, entry: string, env: Record<string, string>): NodeProcess {
  const child = spawn(process.execPath, [entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const keep = (chunk: string) => {
    lines.push(...chunk.split("\n").filter((l) => l.trim() !== ""));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout?.setEncoding("utf8").on("data", keep);
  child.stderr?.setEncoding("utf8").on("data", keep);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    label,
    child,
    exited,
    get done() {
      return done;
    },
    tail: () => lines.join("\n"),
    async stop(timeoutMs = 5_000) {
      if (!running()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (running()) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A durable pull consumer and how many pull requests must be waiting on it before it counts as ready. */
export interface PullReadiness {
  readonly stream: string;
  readonly durable: string;
  readonly waiting: number;
}

/**
 * Waits until every consumer has at least `waiting` pull requests outstanding (`num_waiting`):
 * the services run with LOG_LEVEL=warn, so readiness is read from the server instead of logs.
 * Each slot of a consumer loop keeps one pull request open while idle.
 */
export async function waitForPullers(
  jsm: JetStreamManager,
  wanted: readonly PullReadiness[],
  processes: readonly NodeProcess[],
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Map(wanted.map((w) => [`${w.stream}/${w.durable}`, w]));
  while (pending.size > 0) {
    for (const [key, w] of pending) {
      try {
        const info = await jsm.consumers.info(w.stream, w.durable);
        if (info.num_waiting >= w.waiting) pending.delete(key);
      } catch {
        // not provisioned yet
      }
    }
    const dead = processes.find((p) => p.done);
    if (dead) throw new Error(`${dead.label} exited during start-up:\n${dead.tail()}`);
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `not ready within ${timeoutMs} ms: ${[...pending.keys()].join(", ")}\n${processes.map((p) => `--- ${p.label}\n${p.tail()}`).join("\n")}`,
      );
    }
    await sleep(50);
  }
}

/**
 * Waits until this bench's processes are quiet: watched for at least 3 s, then under 15 % of one
 * core for two 500 ms windows in a row (at most `maxMs`). Freshly started services are not idle
 * at once — the code agent's expression-evaluator child process often spends seconds (sometimes
 * tens of seconds) in back-to-back garbage collections after loading mathjs — and on 2 cores that
 * would distort the first measurements.
 * @returns how long it took, in ms.
 */
export async function settle(maxMs = 30_000, minMs = 3_000): Promise<number> {
  const started = performance.now();
  let quiet = 0;
  while ((quiet < 2 || performance.now() - started < minMs) && performance.now() - started < maxMs) {
    const before = loadSnapshot();
    await sleep(500);
    const after = loadSnapshot();
    quiet = (after.treeMs - before.treeMs) / (after.at - before.at) < 0.15 ? quiet + 1 : 0;
  }
  return performance.now() - started;
}

/** A management connection to a bench nats-server. */
export async function managerFor(url: string): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: url, name: "bench-manager" });
  return { nc, jsm: await jetstreamManager(nc) };
}

/** What a Baton service entry point is and how its readiness shows. */
export interface ServiceSpec {
  readonly label: string;
  /** Path relative to the repository root. */
  readonly entry: string;
  readonly env?: Record<string, string>;
  /** Pull requests each replica keeps open when idle, per durable. */
  readonly pulls: readonly PullReadiness[];
}

const SUPERVISOR_CONCURRENCY = 8;
const SYNTHESIZER_CONCURRENCY = 4;
export const WORKER_CONCURRENCY = 4;

export const SUPERVISOR: ServiceSpec = {
  label: "supervisor",
  entry: "services/supervisor/src/main.ts",
  env: { SUPERVISOR_CONCURRENCY: String(SUPERVISOR_CONCURRENCY) },
  pulls: [
    { stream: "BATON_SUBMISSIONS", durable: "supervisor-submissions", waiting: SUPERVISOR_CONCURRENCY },
    { stream: "BATON_RESULTS", durable: "supervisor-results", waiting: SUPERVISOR_CONCURRENCY },
  ],
};

export const SYNTHESIZER: ServiceSpec = {
  label: "synthesizer",
  entry: "services/synthesizer/src/main.ts",
  env: { SYNTHESIZER_CONCURRENCY: String(SYNTHESIZER_CONCURRENCY) },
  pulls: [{ stream: "BATON_SYNTHESIS", durable: "synthesizer", waiting: SYNTHESIZER_CONCURRENCY }],
};

export function codeAgent(concurrency = WORKER_CONCURRENCY): ServiceSpec {
  return {
    label: "code-agent",
    entry: "services/code-agent/src/main.ts",
    env: { WORKER_CONCURRENCY: String(concurrency) },
    pulls: [{ stream: "BATON_WORK", durable: "code-agent", waiting: concurrency }],
  };
}

/** The bench-only worker (agent "sleep", one tool `sleep_ms`); see bench/sleep-agent.ts. */
export function sleepAgent(concurrency = 1): ServiceSpec {
  return {
    label: "sleep-agent",
    entry: "bench/sleep-agent.ts",
    env: { WORKER_CONCURRENCY: String(concurrency) },
    pulls: [{ stream: "BATON_WORK", durable: "sleep-agent", waiting: concurrency }],
  };
}

/** A nats-server plus Baton services as child processes. */
export interface BatonStack {
  readonly nats: BenchNats;
  readonly url: string;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly processes: NodeProcess[];
  /** How long the processes took to become quiet after they were ready (see {@link settle}), in ms. */
  readonly settledMs: number;
  /** CPU ms each role used while settling. */
  readonly settleCpu: Record<string, number>;
  /** Starts `replicas` more processes of a service and waits until all its pull slots (old and new) are open. */
  add(spec: ServiceSpec, replicas?: number, env?: Record<string, string>): Promise<NodeProcess[]>;
  stop(): Promise<void>;
}

let instanceCounter = 0;

/**
 * Starts a private nats-server and the given services (`node <entry>`, env NATS_URL and
 * LOG_LEVEL=warn plus `env`), and waits until each consumes. `natsUrl` overrides the URL the
 * services connect to (the profile routes them through a recording proxy).
 */
export async function startBatonStack(
  label: string,
  services: readonly { spec: ServiceSpec; replicas?: number }[],
  env: Record<string, string> = {},
  options: { natsUrlFor?: (url: string) => Promise<string> } = {},
): Promise<BatonStack> {
  const nats = await startNats(label);
  const serviceUrl = options.natsUrlFor ? await options.natsUrlFor(nats.url) : nats.url;
  const { nc, jsm } = await managerFor(nats.url);
  const processes: NodeProcess[] = [];
  const baseEnv = { NATS_URL: serviceUrl, LOG_LEVEL: "warn", SHUTDOWN_GRACE_MS: "2000", ...env };
  const specOf = new Map<NodeProcess, string>();
  const launch = (spec: ServiceSpec, replicas: number, extra: Record<string, string>) => {
    const started: NodeProcess[] = [];
    for (let i = 0; i < replicas; i++) {
      const id = `${spec.label}-${++instanceCounter}`;
      const p = spawnNode(id, spec.entry, { ...baseEnv, ...spec.env, ...extra, SERVICE_INSTANCE_ID: id });
      started.push(p);
      processes.push(p);
      specOf.set(p, spec.label);
    }
    return started;
  };
  // Pull slots expected open: per replica still alive (a killed replica no longer counts).
  const readiness = (spec: ServiceSpec) => {
    const alive = processes.filter((p) => specOf.get(p) === spec.label && !p.done).length;
    return spec.pulls.map((p) => ({ ...p, waiting: p.waiting * alive }));
  };
  const stack = {
    settledMs: 0,
    settleCpu: {} as Record<string, number>,
    nats,
    url: nats.url,
    nc,
    jsm,
    processes,
    async add(spec: ServiceSpec, replicas = 1, extra: Record<string, string> = {}) {
      const started = launch(spec, replicas, extra);
      await waitForPullers(
        jsm,
        readiness(spec),
        processes.filter((p) => !p.done),
      );
      await settle();
      return started;
    },
    async stop() {
      await Promise.all(processes.map((p) => p.stop()));
      await nc.close();
      await nats.stop();
    },
  } satisfies BatonStack;
  try {
    for (const s of services) launch(s.spec, s.replicas ?? 1, {});
    await waitForPullers(
      jsm,
      services.flatMap((s) => readiness(s.spec)),
      processes,
    );
    const probe = cpuProbe(serviceRoles(processes));
    const before = probe();
    stack.settledMs = await settle();
    stack.settleCpu = cpuPerTask(before, probe(), 1);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

/** A tiny OTLP/HTTP collector: accepts POST /v1/traces, answers 200 and counts what it got. */
export interface OtlpSink {
  readonly url: string;
  readonly stats: { requests: number; bytes: number; spans: number };
  close(): Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  const stats = { requests: 0, bytes: 0, spans: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        let body = Buffer.concat(chunks);
        if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        stats.requests++;
        stats.bytes += body.byteLength;
        // Count spans without a full parse: every OTLP JSON span has exactly one "spanId".
        stats.spans += body.toString("utf8").split('"spanId"').length - 1;
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
