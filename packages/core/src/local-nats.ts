import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { sleep } from "./backoff.ts";

/** Options of {@link startLocalNatsServer}. */
export interface LocalNatsOptions {
  /** Folder for JetStream file storage and the generated config; created when absent. */
  readonly storeDir: string;
  /** TCP port; default: a free one. Pass the old port to restart a server on the same address. */
  readonly port?: number;
  /** Largest message accepted, in bytes; default 8 MiB (the NATS default is 1 MiB). */
  readonly maxPayloadBytes?: number;
  /** Executable; default `nats-server` on PATH. */
  readonly binary?: string;
  /** Where the server's log goes; default: ignored. */
  readonly stdio?: "inherit" | "ignore";
  /** Configuration lines added to the generated config, e.g. `natsServerAuthConfig(deployment)`. */
  readonly extraConfig?: string;
  /** A log file for the server (`-l`): with authentication on, it records every permission violation. */
  readonly logFile?: string;
}

/** A nats-server child process started by {@link startLocalNatsServer}. */
export interface LocalNatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly process: ChildProcess;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** SIGKILLs the server and waits for it to exit (chaos tests). */
  kill(): Promise<void>;
}

/** True when a `nats-server` executable is on PATH. */
export function natsServerAvailable(binary = "nats-server"): boolean {
  return spawnSync(binary, ["--version"], { stdio: "ignore" }).status === 0;
}

/** A TCP port nobody listens on right now (bound by the OS, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a private nats-server with JetStream (file storage in `storeDir`) on 127.0.0.1 and
 * waits until it accepts connections (up to 10 s).
 * @throws when the binary is missing or the server does not come up.
 */
export async function startLocalNatsServer(options: LocalNatsOptions): Promise<LocalNatsServer> {
  const port = options.port ?? (await freePort());
  mkdirSync(options.storeDir, { recursive: true });
  const configFile = join(options.storeDir, "nats-server.conf");
  writeFileSync(
    configFile,
    [
      `listen: 127.0.0.1:${port}`,
      `max_payload: ${options.maxPayloadBytes ?? 8 * 1024 * 1024}`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(options.storeDir)}`,
      `}`,
      ...(options.extraConfig ? [options.extraConfig] : []),
      "",
    ].join("\n"),
  );
  // Its own process group: a Ctrl-C in the terminal reaches the CLI, which stops the services
  // first and the server last, instead of the server dying under the draining services.
  const args = ["-c", configFile, ...(options.logFile ? ["-l", options.logFile] : [])];
  const child = spawn(options.binary ?? "nats-server", args, { stdio: options.stdio ?? "ignore", detached: true });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  await Promise.race([waitForPort(port, 10_000), spawnError]);
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: options.storeDir,
    process: child,
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
  };
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ port, host: "127.0.0.1" });
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error(`nats-server did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
}
