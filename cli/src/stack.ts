import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { createInterface } from "node:readline";
import type { Role } from "@baton/contracts";
import {
  type BatonDeployment,
  connectNats,
  deploymentUsers,
  ensureDeployment,
  type LocalNatsServer,
  natsServerAuthConfig,
  natsServerAvailable,
  startLocalNatsServer,
  writeCredentials,
} from "@baton/core";
import { AuditTrail, watchViolations } from "@baton/audit";
import { jetstream } from "@nats-io/jetstream";
import { repoRoot } from "./repo-root.ts";
import { defaultServices, READY_MESSAGES, serviceByName } from "./service-catalog.ts";
import { logMessage } from "./service-logs.ts";

/** A process of the stack, named in logs and errors: a service's folder name, or an extra agent's label. */
export type ServiceName = string;

/**
 * An agent outside `services/` to start with the stack, e.g. `examples/agents/geo`: `node <entry>`
 * in `cwd`, with the stack's NATS_URL and LOG_LEVEL and `env`.
 */
export interface ExtraAgent {
  /** Its name in logs, e.g. `geo-agent`. */
  readonly label: string;
  /** The script Node runs (absolute path). */
  readonly entry: string;
  /** Its working folder; default the folder above the entry's `src/`. */
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** The NATS role it connects as (its credentials are minted for it when authentication is on). */
  readonly role?: Role;
}

/**
 * If a process logs `started` (connected and provisioned) but not its ready line within this
 * many ms, it is taken as ready (so a renamed message only slows start-up).
 */
const READY_GRACE_MS = 3_000;

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Use this NATS server (comma-separated URLs) and start none. Default: start a private nats-server. */
  readonly natsUrl?: string | undefined;
  /** Data folder: the nats-server stores JetStream in `<dataDir>/nats`. Default: a fresh temp folder, removed by `stop()`. */
  readonly dataDir?: string | undefined;
  /** Port of the nats-server started; default a free port. Ignored with `natsUrl`. */
  readonly port?: number | undefined;
  /** Which services (folder names under `services/`) to start; default every one whose manifest says `autostart`. */
  readonly services?: readonly string[] | undefined;
  /** Agents from outside `services/` to start as well (after the services' supervisor). */
  readonly agents?: readonly ExtraAgent[] | undefined;
  /**
   * Authentication of the private nats-server (default true): a deployment (keys, JWTs) in
   * `<dataDir>/auth` or the temp folder, anonymous connections refused, and each process given its
   * own role's credentials (NATS_CREDS). False: an open server (tests that measure without it).
   */
  readonly auth?: boolean | undefined;
  /** With `natsUrl`: the deployment folder whose credentials the processes use (its server must trust it). */
  readonly authDir?: string | undefined;
  /** Extra environment for the services (NATS_URL and LOG_LEVEL are set by the stack). */
  readonly env?: Readonly<Record<string, string>> | undefined;
  /** LOG_LEVEL of the services; default `info`. */
  readonly logLevel?: string | undefined;
  /** Receives every output line of every service (pino JSON on stdout; stderr as it comes). */
  readonly onLog?: ((service: ServiceName, line: string, stream: "stdout" | "stderr") => void) | undefined;
  /** Called when a service exits on its own after the stack is up (nothing is restarted). */
  readonly onExit?: ((service: ServiceName, code: number | null, signal: NodeJS.Signals | null) => void) | undefined;
  /** How long every service may take to log its ready line; default 60,000 ms. */
  readonly readyTimeoutMs?: number | undefined;
  /** How long `stop()` waits after SIGTERM before SIGKILL, per service; default 10,000 ms. */
  readonly stopTimeoutMs?: number | undefined;
}

/** A running local stack. */
export interface Stack {
  /** The URL the services use (`nats://127.0.0.1:<port>` for a private server). */
  readonly natsUrl: string;
  /** The nats-server started by the stack, if any. */
  readonly natsServer?: LocalNatsServer;
  /** The JetStream store folder of that server, if any. */
  readonly storeDir?: string;
  /** The deployment folder when authentication is on (`keys/`, `jwt/`, `creds/`). */
  readonly authDir?: string;
  /** Credentials files of the client and operator roles, when authentication is on. */
  readonly clientCreds?: string;
  readonly operatorCreds?: string;
  /** The nats-server's log file (permission violations are logged there), when the stack started the server. */
  readonly natsLogFile?: string;
  /** Process ids of the services. */
  pids(): Partial<Record<ServiceName, number>>;
  /** The last (up to 50) output lines of a service, for error reports. */
  recentLogs(service: ServiceName): readonly string[];
  /**
   * Stops the services (SIGTERM, then SIGKILL after `stopTimeoutMs`), then the nats-server, then
   * removes the temp folder if the stack made one. Idempotent; never throws.
   */
  stop(): Promise<void>;
}

/** Why {@link startStack} failed; `message` says what to do. */
export class StackError extends Error {
  override readonly name = "StackError";
  readonly code:
    | "NATS_SERVER_MISSING"
    | "PORT_IN_USE"
    | "NATS_START_FAILED"
    | "SERVICE_MISSING"
    | "SERVICE_EXITED"
    | "READY_TIMEOUT"
    | "ROLE_UNKNOWN";

  constructor(code: StackError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** The install hint printed when `nats-server` is not on PATH. */
export const NATS_INSTALL_HINT = [
  "nats-server is not installed (not found on PATH). Install it, then run again:",
  "  Debian/Ubuntu:  sudo apt-get install nats-server",
  "  macOS:          brew install nats-server",
  "  any system:     download a release from https://github.com/nats-io/nats-server/releases and put nats-server on PATH",
  "Or point Baton at an existing JetStream-enabled server with NATS_URL=nats://host:4222.",
].join("\n");

/**
 * Starts the local Baton stack: unless `natsUrl` is given, a private nats-server with JetStream
 * (file store in `<dataDir>/nats` or a temp folder) on 127.0.0.1:`port` (default: a free port);
 * then the services found under `services/` (see `discoverServices`) and any extra agents as
 * child processes (`process.execPath <entry>`, env NATS_URL set). Resolves once every process
 * logged its ready line ({@link READY_MESSAGES}). A stack that fails to start is stopped before
 * the error is thrown.
 * Children are SIGKILLed if this process exits without calling `stop()`.
 * @throws StackError: NATS_SERVER_MISSING (with install instructions), PORT_IN_USE,
 *   NATS_START_FAILED, SERVICE_MISSING, SERVICE_EXITED (with the service's last output), READY_TIMEOUT.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const root = repoRoot();
  const launches: Launch[] = [];
  try {
    const services = options.services ? options.services.map((n) => serviceByName(n, root)) : defaultServices(root);
    for (const s of services)
      launches.push({ name: s.name, entry: s.entry, cwd: root, ready: READY_MESSAGES[s.role], env: {}, role: s.natsRole });
  } catch (error) {
    throw new StackError("SERVICE_MISSING", (error as Error).message, { cause: error });
  }
  for (const agent of options.agents ?? []) {
    if (!existsSync(agent.entry)) throw new StackError("SERVICE_MISSING", `${agent.label}: ${agent.entry} not found`);
    launches.push({
      name: agent.label,
      entry: agent.entry,
      cwd: agent.cwd ?? join(agent.entry, "..", ".."),
      ready: READY_MESSAGES.agent,
      env: agent.env ?? {},
      role: agent.role,
    });
  }
  const names = launches.map((l) => l.name);

  let natsServer: LocalNatsServer | undefined;
  let tempDir: string | undefined;
  let deployment: BatonDeployment | undefined;
  /** Where the stack keeps its state (the server's store, the deployment, agents' data). */
  let dataDir = options.dataDir ?? ".baton";
  let natsUrl = options.natsUrl;
  if (natsUrl && options.authDir) deployment = await ensureDeployment(options.authDir);
  if (!natsUrl) {
    if (!natsServerAvailable()) throw new StackError("NATS_SERVER_MISSING", NATS_INSTALL_HINT);
    if (options.port !== undefined && (await portInUse(options.port))) {
      throw new StackError(
        "PORT_IN_USE",
        `port ${options.port} is already in use (another nats-server, or \`baton up\` already running?): pass --port <n> to use another port, or use the server there with NATS_URL=nats://127.0.0.1:${options.port}`,
      );
    }
    if (!options.dataDir) tempDir = await mkdtemp(join(tmpdir(), "baton-stack-"));
    const baseDir = options.dataDir ?? tempDir ?? ".baton";
    dataDir = baseDir;
    const storeDir = join(baseDir, "nats");
    try {
      if (options.auth !== false) deployment = await ensureDeployment(join(baseDir, "auth"));
      natsServer = await startLocalNatsServer({
        storeDir,
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(deployment ? { extraConfig: natsServerAuthConfig(deployment), logFile: join(storeDir, "nats-server.log") } : {}),
      });
    } catch (error) {
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
      throw new StackError("NATS_START_FAILED", `could not start nats-server: ${(error as Error).message}`, { cause: error });
    }
    natsUrl = natsServer.url;
  }

  // Each process connects as its own role; the CLI as the client (and the operator for its commands).
  const credentials = new Map<string, string>();
  let clientCreds: string | undefined;
  let operatorCreds: string | undefined;
  if (deployment) {
    for (const launch of launches) {
      if (!launch.role) {
        if (tempDir) await rm(tempDir, { recursive: true, force: true });
        await natsServer?.stop();
        throw new StackError(
          "ROLE_UNKNOWN",
          `${launch.name}: which agent it runs is unknown, so no credentials can be minted for it (set "baton": { "agent": "<name>" } in its package.json)`,
        );
      }
      credentials.set(launch.name, await writeCredentials(deployment, launch.role));
    }
    clientCreds = await writeCredentials(deployment, { kind: "client" });
    operatorCreds = await writeCredentials(deployment, { kind: "operator" });
  }

  const children = new Map<ServiceName, ChildProcess>();
  const logs = new Map<ServiceName, string[]>(names.map((n) => [n, []]));
  let stopping = false;
  const killAll = () => {
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    natsServer?.process.kill("SIGKILL");
  };
  process.once("exit", killAll);

  let stopped: Promise<void> | undefined;
  const stack: Stack = {
    natsUrl,
    ...(natsServer ? { natsServer, storeDir: natsServer.storeDir } : {}),
    ...(deployment && clientCreds && operatorCreds ? { authDir: deployment.dir, clientCreds, operatorCreds } : {}),
    ...(natsServer && deployment ? { natsLogFile: join(natsServer.storeDir, "nats-server.log") } : {}),
    pids: () => Object.fromEntries([...children].map(([n, c]) => [n, c.pid])),
    recentLogs: (service) => logs.get(service) ?? [],
    stop() {
      stopped ??= (async () => {
        stopping = true;
        await Promise.all([...children.values()].map((c) => stopChild(c, options.stopTimeoutMs ?? 10_000)));
        await natsServer?.stop().catch(() => undefined);
        if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
        process.removeListener("exit", killAll);
      })();
      return stopped;
    },
  };

  const ready = launches.map(
    ({ name, entry, cwd, ready: readyMessage, env }) =>
      new Promise<void>((resolve, reject) => {
        const creds = credentials.get(name);
        const child = spawn(process.execPath, [entry], {
          cwd,
          env: {
            ...process.env,
            ...options.env,
            ...env,
            NATS_URL: natsUrl,
            // Agents keep local state (e.g. an embedded database) in the stack's data folder.
            BATON_DATA_DIR: resolvePath(dataDir, "data"),
            LOG_LEVEL: options.logLevel ?? "info",
            LOG_PRETTY: "false",
            ...(creds ? { NATS_CREDS: creds } : {}),
          },
          stdio: ["ignore", "pipe", "pipe"],
        });
        children.set(name, child);
        let isReady = false;
        let grace: NodeJS.Timeout | undefined;
        const markReady = () => {
          if (isReady) return;
          isReady = true;
          clearTimeout(grace);
          resolve();
        };
        const remember = (line: string) => {
          const recent = logs.get(name);
          if (!recent) return;
          recent.push(line);
          if (recent.length > 50) recent.shift();
        };
        for (const stream of ["stdout", "stderr"] as const) {
          const input = child[stream];
          if (!input) continue;
          createInterface({ input }).on("line", (line) => {
            remember(line);
            options.onLog?.(name, line, stream);
            if (isReady || stream !== "stdout") return;
            const msg = logMessage(line);
            if (msg === readyMessage) markReady();
            else if (msg === "started") grace ??= setTimeout(markReady, READY_GRACE_MS);
          });
        }
        child.once("error", (error) => reject(new StackError("SERVICE_EXITED", `${name} could not be started: ${error.message}`)));
        child.once("exit", (code, signal) => {
          clearTimeout(grace);
          if (!isReady) {
            // Let readline deliver the last lines before reporting them.
            setImmediate(() => {
              const tail = (logs.get(name) ?? []).slice(-15).map((l) => `  ${l}`);
              reject(
                new StackError(
                  "SERVICE_EXITED",
                  `${name} exited (${signal ?? `code ${code}`}) before it was ready${tail.length ? `; its last output:\n${tail.join("\n")}` : ""}`,
                ),
              );
            });
          } else if (!stopping) options.onExit?.(name, code, signal);
        });
      }),
  );

  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const pending = launches.filter((l) => !(logs.get(l.name) ?? []).some((line) => logMessage(line) === l.ready)).map((l) => l.name);
      reject(new StackError("READY_TIMEOUT", `services not ready after ${timeoutMs} ms: ${pending.join(", ")}`));
    }, timeoutMs);
  });
  try {
    await Promise.race([Promise.all(ready), timeout]);
  } catch (error) {
    await stack.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (deployment && natsServer && operatorCreds) {
    // The server logs every permission violation; the stack puts each on the audit ledger.
    const reporter = await startViolationReporter(natsUrl, operatorCreds, join(natsServer.storeDir, "nats-server.log"), deployment.dir);
    const stopStack = stack.stop.bind(stack);
    stack.stop = async () => {
      await reporter.stop();
      await stopStack();
    };
  }
  return stack;
}

/**
 * Reads the stack's nats-server log for permission violations and records each on the audit
 * ledger (`permission_violation`, as the operator, actor `baton-stack`), with the user named from
 * the deployment's credentials.
 */
async function startViolationReporter(
  natsUrl: string,
  operatorCreds: string,
  logFile: string,
  authDir: string,
): Promise<{ stop(): Promise<void> }> {
  const nc = await connectNats(natsUrl, "baton-stack-violations", undefined, { credsFile: operatorCreds });
  const trail = new AuditTrail(jetstream(nc), { source: "operator", actor: "baton-stack" });
  const watch = watchViolations({ logFile, trail, users: () => deploymentUsers(authDir) });
  return {
    async stop() {
      await watch.stop();
      await nc.close();
    },
  };
}

/** One process the stack starts. */
interface Launch {
  readonly name: string;
  readonly entry: string;
  readonly cwd: string;
  /** The log message after which it consumes. */
  readonly ready: string;
  readonly env: Readonly<Record<string, string>>;
  readonly role: Role | undefined;
}

async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  // No pid: the process never started (spawn error), so there is nothing to wait for.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
async function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
