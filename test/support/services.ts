import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultServices, READY_MESSAGES, serviceByName } from "@baton/cli";
import type { Role } from "@baton/contracts";
import {
  type BatonDeployment,
  ensureDeployment,
  type LocalNatsServer,
  natsServerAuthConfig,
  startLocalNatsServer,
  writeCredentials,
} from "@baton/core";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A service's folder name under `services/`, e.g. `data-agent` (found by `discoverServices`, not listed here). */
export type ServiceName = string;

/** How a child process ended. */
export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** A real child process whose stdout is read as pino JSON log lines. */
export interface LoggedProcess {
  readonly process: ChildProcess;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** Non-JSON output (stderr and stray stdout). */
  readonly stderr: string[];
  /** Resolves with the exit code / signal. */
  readonly exited: Promise<Exit>;
  /** Resolves with the first log line matching `predicate` (already seen or future); rejects on timeout or exit. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/**
 * Spawns `node <script>` directly (no npm wrapper, so signals reach it) with `env` over this
 * process's environment, collecting its JSON log lines. `label` names it in error messages.
 * With `command`, runs that executable instead (e.g. a worker built in another language) with
 * `script` as its only argument, or none when `script` is empty.
 */
export function spawnLogged(script: string, label: string, env: Record<string, string>, command?: string): LoggedProcess {
  const [file, args] = command ? [command, script ? [script] : []] : [process.execPath, [script]];
  const child = spawn(file, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }>();
  let buffer = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.trim()) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        stderr.push(line);
        continue;
      }
      logs.push(record);
      for (const w of waiters) {
        if (w.predicate(record)) {
          waiters.delete(w);
          w.resolve(record);
        }
      }
    }
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => stderr.push(chunk));
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    process: child,
    logs,
    stderr,
    exited,
    waitForLog(predicate, timeoutMs = 30_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${label}: no matching log line within ${timeoutMs} ms; stderr: ${stderr.join("").slice(-2000)}`));
        }, timeoutMs);
        const waiter = {
          predicate,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.add(waiter);
        void exited.then((exit) => {
          if (!waiters.has(waiter)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          reject(
            new Error(
              `${label} exited (${exit.signal ?? exit.code}) before the log line appeared; stderr: ${stderr.join("").slice(-2000)}`,
            ),
          );
        });
      });
    },
  };
}

/** A service running as a real child process, with its pino JSON log lines collected. */
export interface ServiceProcess extends LoggedProcess {
  readonly name: ServiceName;
  /** SIGTERM and wait for exit. */
  stop(): Promise<Exit>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

/** Spawns `node services/<name>/src/main.ts` with its logs collected. */
export function spawnService(name: ServiceName, env: Record<string, string>): ServiceProcess {
  const logged = spawnLogged(serviceByName(name, ROOT).entry, name, { LOG_LEVEL: "info", ...env });
  const child = logged.process;
  return {
    ...logged,
    name,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      return logged.exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await logged.exited;
    },
  };
}

/**
 * The deployments of the stacks this process started, by NATS URL: a service or client pointed at
 * one gets credentials from it (as `baton up` hands them out), so tests need not pass them around.
 */
const deployments = new Map<string, BatonDeployment>();

/**
 * The credentials file of `role` for the stack at `natsUrl`, or undefined when that server has no
 * authentication (a server the test started itself).
 */
export async function credentialsFor(natsUrl: string | undefined, role: Role): Promise<string | undefined> {
  const deployment = natsUrl ? deployments.get(natsUrl) : undefined;
  return deployment ? writeCredentials(deployment, role) : undefined;
}

/**
 * Spawns a service and waits until it consumes. Against a stack with authentication it connects
 * with the credentials of its role: the one its manifest names, or `role` (the MCP agent, whose
 * agent name is in its configuration).
 */
export async function startService(name: ServiceName, env: Record<string, string>, role?: Role): Promise<ServiceProcess> {
  const entry = serviceByName(name, ROOT);
  const natsRole = role ?? entry.natsRole;
  const creds = natsRole ? await credentialsFor(env.NATS_URL, natsRole) : undefined;
  const service = spawnService(name, { ...env, ...(creds ? { NATS_CREDS: creds } : {}) });
  await service.waitForLog((l) => l.msg === READY_MESSAGES[entry.role], 60_000);
  return service;
}

/** A private nats-server plus Baton services, torn down by `stop()`. */
export interface TestStack {
  readonly nats: LocalNatsServer;
  readonly services: ServiceProcess[];
  /** NATS_URL (and `options.env`): what the services got besides their own credentials. */
  readonly env: Record<string, string>;
  /** The deployment folder (authentication on), or undefined. */
  readonly authDir: string | undefined;
  /** The credentials file of a role (minted on first use); undefined without authentication. */
  credentials(role: Role): Promise<string | undefined>;
  stop(): Promise<void>;
}

/**
 * Starts a nats-server (JetStream, own store folder, free port) — with authentication on, as
 * `baton up` does, unless `auth: false` — and the given services (default: every service
 * `baton up` starts) as real processes, each with its role's credentials, and waits until each
 * consumes.
 */
export async function startStack(
  options: { services?: readonly ServiceName[]; env?: Record<string, string>; auth?: boolean } = {},
): Promise<TestStack> {
  const storeDir = mkdtempSync(join(tmpdir(), "baton-test-"));
  const deployment = options.auth === false ? undefined : await ensureDeployment(join(storeDir, "auth"));
  const nats = await startLocalNatsServer({
    storeDir: join(storeDir, "nats"),
    ...(deployment ? { extraConfig: natsServerAuthConfig(deployment), logFile: join(storeDir, "nats-server.log") } : {}),
  });
  if (deployment) deployments.set(nats.url, deployment);
  // Agents keep local state (e.g. an embedded database) in the stack's own folder.
  const env = { NATS_URL: nats.url, BATON_DATA_DIR: join(storeDir, "data"), ...options.env };
  const names = options.services ?? defaultServices(ROOT).map((s) => s.name);
  const services = await Promise.all(names.map((name) => startService(name, env)));
  return {
    nats,
    services,
    env,
    authDir: deployment?.dir,
    credentials: (role) => credentialsFor(nats.url, role),
    async stop() {
      await Promise.all(services.map((s) => s.stop()));
      await nats.stop();
      deployments.delete(nats.url);
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
