/**
 * A private Restate for one scenario: restate-server (single node, default configuration, its own
 * temporary data folder, every port on loopback and picked free) plus the bench's services as Node
 * child processes, registered through the admin API. Stopped and its folder removed afterwards.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@baton/core";
import { type NodeProcess, settle, sleep, spawnNode } from "../lib/stack.ts";
import { RestateDriver } from "./driver.ts";
import type { RestateInstall } from "./install.ts";
import { RESTATE_SERVICES } from "./protocol.ts";

/** The bench's Restate services, by scenario shape. */
export type RestateShape = "services" | "journal";

const ENTRIES: Record<RestateShape, readonly { label: string; entry: string }[]> = {
  services: [
    { label: "worker service", entry: "bench/restate/worker.ts" },
    { label: "orchestrator service", entry: "bench/restate/orchestrator.ts" },
  ],
  journal: [{ label: "journal service", entry: "bench/restate/journal.ts" }],
};

/** The service the bench client calls, by shape. */
export const ENTRY_SERVICE: Record<RestateShape, string> = {
  services: RESTATE_SERVICES.orchestrator,
  journal: RESTATE_SERVICES.journal,
};

/** Longest wait for the server, a registration or the first invocation, in ms. */
const READY_TIMEOUT_MS = 60_000;

export interface RestateServer {
  readonly child: ChildProcess;
  /** True once it has exited or could not be started. */
  readonly done: boolean;
  readonly ingressUrl: string;
  readonly adminUrl: string;
  /** Last lines of its output. */
  tail(): string;
}

export interface RestateStack {
  readonly server: RestateServer;
  readonly services: readonly NodeProcess[];
  /** How long the processes took to become quiet after registration, in ms. */
  readonly settledMs: number;
  stop(): Promise<void>;
}

async function httpOk(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}

function startServer(install: RestateInstall, baseDir: string, ports: { node: number; admin: number; ingress: number }) {
  const child = spawn(
    install.serverBinary,
    [
      "--base-dir",
      baseDir,
      "--node-name",
      "bench",
      "--no-logo",
      "--log-filter=warn",
      "--log-disable-ansi-codes=true",
      "--shutdown-timeout=5s",
    ],
    {
      cwd: baseDir,
      env: {
        ...process.env,
        RESTATE_LISTEN_MODE: "tcp",
        RESTATE_BIND_ADDRESS: `127.0.0.1:${ports.node}`,
        RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${ports.admin}`,
        RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ports.ingress}`,
        RESTATE_DISABLE_TELEMETRY: "true",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const lines: string[] = [];
  const keep = (chunk: string) => {
    lines.push(...chunk.split("\n").filter((l) => l.trim() !== ""));
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  child.stdout.setEncoding("utf8").on("data", keep);
  child.stderr.setEncoding("utf8").on("data", keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      done = true;
      resolve();
    });
    child.once("error", (error) => {
      lines.push(`could not start ${install.serverBinary}: ${error.message}`);
      done = true;
      resolve();
    });
  });
  const server: RestateServer = {
    child,
    get done() {
      return done;
    },
    ingressUrl: `http://127.0.0.1:${ports.ingress}`,
    adminUrl: `http://127.0.0.1:${ports.admin}`,
    tail: () => lines.join("\n"),
  };
  const stop = async () => {
    if (done) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return { server, stop };
}

/** Registers a deployment (`POST /deployments`), retrying until its endpoint answers the server's discovery. */
async function register(adminUrl: string, uri: string, alive: () => string | undefined): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last = "";
  for (;;) {
    const dead = alive();
    if (dead) throw new Error(dead);
    try {
      const res = await fetch(`${adminUrl}/deployments`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ uri }),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.ok) return;
      last = `HTTP ${res.status}: ${(await res.text()).slice(0, 400)}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (performance.now() > deadline) throw new Error(`could not register ${uri} within ${READY_TIMEOUT_MS} ms: ${last}`);
    await sleep(200);
  }
}

/**
 * Starts restate-server and the services of `shape`, registers them, waits until one 1-step task
 * through the ingress succeeds, then until the processes are quiet.
 */
export async function startRestateStack(install: RestateInstall, shape: RestateShape): Promise<RestateStack> {
  const baseDir = mkdtempSync(join(tmpdir(), `baton-bench-restate-${shape}-`));
  const ports = { node: await freePort(), admin: await freePort(), ingress: await freePort() };
  const { server, stop: stopServer } = startServer(install, baseDir, ports);
  const services: NodeProcess[] = [];
  const stop = async () => {
    await Promise.all(services.map((p) => p.stop()));
    await stopServer();
    rmSync(baseDir, { recursive: true, force: true });
  };
  const dead = () => {
    const exited = server.done ? { label: "restate-server", tail: server.tail() } : undefined;
    const gone = services.find((p) => p.done);
    const failed = exited ?? (gone ? { label: gone.label, tail: gone.tail() } : undefined);
    if (!failed) return undefined;
    return `${failed.label} exited during start-up (last output: ${failed.tail.split("\n").at(-1) ?? "none"})\n${failed.tail}`;
  };
  try {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (!(await httpOk(`${server.adminUrl}/health`)) || !(await httpOk(`${server.ingressUrl}/restate/health`))) {
      const reason = dead();
      if (reason) throw new Error(reason);
      if (performance.now() > deadline) throw new Error(`restate-server not healthy within ${READY_TIMEOUT_MS} ms:\n${server.tail()}`);
      await sleep(100);
    }
    for (const { label, entry } of ENTRIES[shape]) {
      const port = await freePort();
      const p = spawnNode(label, entry, { PORT: String(port), BENCH_RESTATE_SDK: install.sdkEntry, RESTATE_LOGGING: "WARN" });
      services.push(p);
      await register(server.adminUrl, `http://127.0.0.1:${port}`, dead);
    }
    // Registration reaches the ingress asynchronously: call until the first invocation succeeds.
    const prober = new RestateDriver(server.ingressUrl, ENTRY_SERVICE[shape]);
    try {
      for (let last = ""; ; ) {
        const reason = dead();
        if (reason) throw new Error(reason);
        try {
          const res = await prober.probe("chain1");
          if (res.status === 200) break;
          last = `HTTP ${res.status}: ${res.body.slice(0, 400)}`;
        } catch (error) {
          last = (error as Error).message;
        }
        if (performance.now() > deadline)
          throw new Error(`no successful invocation within ${READY_TIMEOUT_MS} ms: ${last}\n${server.tail()}`);
        await sleep(100);
      }
    } finally {
      await prober.close();
    }
    return { server, services, settledMs: await settle(), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
