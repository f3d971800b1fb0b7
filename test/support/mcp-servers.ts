/**
 * Helpers for the MCP tests: where the reference MCP servers and the test server are, a logger
 * whose lines can be read back, the Streamable HTTP "everything" server as a child process, and
 * a way to wait for a condition.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders, request } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createLogger, freePort, type Logger } from "@baton/core";
import { ROOT } from "./services.ts";

/** Entry scripts of the MCP servers the tests run (start them with `process.execPath`). */
export const MCP_SERVERS = {
  filesystem: join(ROOT, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"),
  memory: join(ROOT, "node_modules/@modelcontextprotocol/server-memory/dist/index.js"),
  everything: join(ROOT, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
  test: join(ROOT, "test/support/mcp-test-server.ts"),
} as const;

/** A pino logger (level debug) whose JSON lines are kept in `lines` and, as raw text, in `text()`. */
export interface CapturedLogger {
  readonly logger: Logger;
  readonly lines: Record<string, unknown>[];
  text(): string;
}

/** A logger for assertions on what was logged (warnings, and that no secret was). */
export function captureLogger(): CapturedLogger {
  const lines: Record<string, unknown>[] = [];
  let raw = "";
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      const text = chunk.toString("utf8");
      raw += text;
      for (const line of text.split("\n")) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ service: "mcp-test", level: "debug", destination }), lines, text: () => raw };
}

/** The "everything" reference server over Streamable HTTP, as a child process. */
export interface HttpMcpServer {
  /** Its MCP endpoint, e.g. `http://127.0.0.1:40123/mcp`. */
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** SIGTERM (then SIGKILL after 2 s) and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `@modelcontextprotocol/server-everything streamableHttp` on a free port (its `PORT`
 * variable; default would be 3001) and waits until it listens (up to 20 s).
 * @throws Error with its output when it exits or does not listen in time.
 */
export async function startEverythingHttp(port?: number): Promise<HttpMcpServer> {
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, [MCP_SERVERS.everything, "streamableHttp"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(chosen) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not listen within 20 s: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("listening on port")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`server-everything exited: ${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${chosen}/mcp`,
    port: chosen,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `check` every 50 ms until it returns a truthy value; returns that value. @throws Error after `timeoutMs` (default 10 s). */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = "condition"): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A pass-through HTTP proxy that records the headers of every request it forwards. */
export interface RecordingProxy {
  /** `http://127.0.0.1:<port>` + the path of the request. */
  readonly origin: string;
  readonly requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Starts a proxy on a free port that forwards every request (streaming both ways) to `target` (`http://host:port`). */
export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const requests: RecordingProxy["requests"] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
