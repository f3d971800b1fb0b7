import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { BatonError } from "@baton/core";
import { ToolError, type ToolErrorCode } from "@baton/tools";
import type { DatasetSpec } from "./datasets.ts";
import type { JsonValue } from "./json-values.ts";
import { defaultProcessMemoryLimitBytes, resolveSqlLimits, type SqlLimits } from "./limits.ts";
import { type QueryRun, QueryRuns } from "./query-runs.ts";
import type { LoadedDataset, QueryOptions, QueryResult, SqlBackend } from "./sql-backend.ts";
import type { SqlEngineOptions } from "./sql-engine.ts";
import { cancelled, type ErrorContext, memoryExceeded, timeLimitExceeded } from "./sql-errors.ts";
import type { HostError, HostMemory, HostMessage, HostProcessInfo, HostReply, HostRequest } from "./sql-protocol.ts";

/**
 * How long the SQL process has to answer once a query should have stopped (its time limit
 * passed, or its signal aborted) before it is killed and restarted, in ms: 1,500.
 */
export const KILL_GRACE_MS = 1_500;

/** V8 heap of the SQL process in MiB: results are at most 16 MiB of JSON. */
const HOST_HEAP_MB = 256;

const HOST = fileURLToPath(new URL("./sql-host.ts", import.meta.url));
const TOOL_ERROR_CODES = new Set<string>(["TOOL_FAILED", "TOOL_REFUSED", "INVALID_ARGUMENTS", "TOOL_TIMEOUT"]);

/** Options of {@link SqlSandbox.start}: the engine's, with the process limit given a default. */
export interface SqlSandboxOptions extends SqlEngineOptions {
  /**
   * Limit of the SQL process's writable address space (RLIMIT_DATA, set with `ulimit -d` before
   * Node starts), in bytes. It bounds what DuckDB allocates outside its own `memory_limit` (a
   * 2 GB `repeat()` fails at once instead of being built). About 0.85 GiB of it is address space
   * Node reserves without using. Default: `memoryLimit` + 1 GiB ({@link defaultProcessMemoryLimitBytes}).
   */
  readonly processMemoryLimitBytes?: number;
}

type Reply = Pick<Extract<HostReply, { ok: true }>, "ok" | "value"> | Pick<Extract<HostReply, { ok: false }>, "ok" | "error">;

interface Pending {
  readonly run: QueryRun;
  settle(reply: Reply): void;
}

/**
 * {@link SqlEngine} in a child process (sql-host.ts), so that its limits hold even where DuckDB's
 * own do not: the process runs under a data-segment limit, so an allocation past it fails in
 * DuckDB as an out-of-memory error, and a query that does not stop when interrupted (at its time
 * limit, or when its signal aborts) is ended by killing the process after {@link KILL_GRACE_MS}.
 * The process is then restarted (the datasets reload in well under a second); other queries
 * in flight on it fail as retryable. The agent's own process never holds a result larger than
 * the result cap.
 */
export class SqlSandbox implements SqlBackend {
  readonly limits: SqlLimits;
  /** The SQL process's address-space limit, in bytes. */
  readonly processMemoryLimitBytes: number;
  readonly #catalog: readonly DatasetSpec[];
  readonly #options: SqlEngineOptions;
  #errors: ErrorContext;
  readonly #pending = new Map<number, Pending>();
  readonly #runs = new QueryRuns();
  #datasets: readonly LoadedDataset[] = [];
  #info: HostProcessInfo = { dataLimitBytes: null, memory: { dataBytes: null, rssBytes: null, peakRssBytes: null } };
  #lastMemory: HostMemory | undefined;
  /** Restart the process once idle: it holds more than half its headroom (see {@link #noteMemory}). */
  #recycle = false;
  #child: ChildProcess | undefined;
  #ready: Promise<void> = Promise.resolve();
  #nextId = 0;
  /** Calls in progress, waiting for the process included. */
  #active = 0;
  #closed = false;

  private constructor(catalog: readonly DatasetSpec[], options: SqlSandboxOptions) {
    this.limits = resolveSqlLimits(options.limits);
    this.processMemoryLimitBytes = options.processMemoryLimitBytes ?? defaultProcessMemoryLimitBytes(options.memoryLimit ?? "1GB");
    if (!Number.isInteger(this.processMemoryLimitBytes) || this.processMemoryLimitBytes < 2 ** 30) {
      throw new RangeError(`the SQL process memory limit must be at least 1 GiB (1073741824 bytes), got ${this.processMemoryLimitBytes}`);
    }
    this.#catalog = catalog;
    this.#options = { ...options, processMemoryLimitBytes: this.processMemoryLimitBytes };
    this.#errors = { tables: "", memoryLimit: options.memoryLimit ?? "1GB", processMemoryLimitBytes: this.processMemoryLimitBytes };
  }

  /**
   * Starts the SQL process and loads `catalog` in it (about 0.5 s for the built-in datasets).
   * @throws RangeError for invalid limits; Error when the process cannot start or a dataset fails to load.
   */
  static async start(catalog: readonly DatasetSpec[], options: SqlSandboxOptions = {}): Promise<SqlSandbox> {
    const sandbox = new SqlSandbox(catalog, options);
    sandbox.#spawn();
    try {
      await sandbox.#ready;
    } catch (error) {
      sandbox.close();
      throw error;
    }
    return sandbox;
  }

  get datasets(): readonly LoadedDataset[] {
    return this.#datasets;
  }

  /** The SQL process's id; undefined between a kill and the restart, and after {@link close}. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** RLIMIT_DATA and memory of the SQL process as it reported them when it was ready. */
  get processInfo(): HostProcessInfo {
    return this.#info;
  }

  /** Memory of the SQL process right after the last call it answered; undefined before the first. */
  get lastMemory(): HostMemory | undefined {
    return this.#lastMemory;
  }

  dataset(name: string): LoadedDataset | undefined {
    const wanted = name.trim().toLowerCase();
    return this.#datasets.find((d) => d.name === wanted);
  }

  /**
   * {@link SqlEngine.query} in the SQL process, with the same errors, plus: a query still running
   * {@link KILL_GRACE_MS} after its time limit → `TOOL_TIMEOUT` (not retryable unless shared); the
   * process dying while the query ran alone → `TOOL_REFUSED` naming the memory limits; other
   * queries caught in a restart → retryable `TOOL_FAILED`.
   */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    return (await this.#call({ type: "query", sql, maxRows: options.maxRows }, options.signal)) as QueryResult;
  }

  async sample(name: string, limit = 3): Promise<Record<string, JsonValue>[]> {
    return (await this.#call({ type: "sample", name, limit }, undefined)) as Record<string, JsonValue>[];
  }

  /** Stops the SQL process; calls in flight fail (retryable), later calls fail. */
  close(): void {
    this.#closed = true;
    const child = this.#child;
    this.#child = undefined;
    child?.kill("SIGKILL");
    this.#settleAll(() => ({ code: "TOOL_FAILED", message: "the SQL engine was closed", retryable: true }));
  }

  /** Forks the SQL process under its RLIMIT_DATA and sends it the catalog; `#ready` settles when it has loaded. */
  #spawn(): void {
    const kib = Math.floor(this.processMemoryLimitBytes / 1024);
    // Inherited flags minus --inspect (the port is taken), plus the heap limit.
    const nodeArgs = [...process.execArgv.filter((a) => !a.startsWith("--inspect")), `--max-old-space-size=${HOST_HEAP_MB}`];
    const stdio: ("ignore" | "inherit" | "ipc")[] = ["ignore", "inherit", "inherit", "ipc"];
    // Node has no setrlimit: a shell sets the limit, then execs Node (which keeps the IPC channel).
    const child =
      process.platform === "win32"
        ? fork(HOST, [], { execArgv: nodeArgs, stdio })
        : fork(HOST, [], {
            execPath: "/bin/sh",
            execArgv: ["-c", `ulimit -d ${kib} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
            stdio,
          });
    this.#child = child;
    this.#recycle = false;
    this.#ready = new Promise<void>((resolve, reject) => {
      child.on("message", (message: HostMessage) => {
        if (message.type === "ready") {
          this.#datasets = message.datasets;
          this.#errors = { ...this.#errors, tables: message.datasets.map((d) => d.name).join(", ") };
          this.#info = message.process;
          this.#hold(child, this.#active > 0);
          resolve();
        } else if (message.type === "failed") {
          reject(new Error(message.message));
          this.#stop(child, { restart: false });
        } else {
          if (this.#child === child) this.#noteMemory(message.memory);
          this.#pending.get(message.id)?.settle(message);
        }
      });
      child.once("exit", (code, signal) => {
        reject(new Error(`the SQL process exited (${signal ?? `code ${code}`}) before it was ready`));
        this.#onExit(child, code, signal);
      });
      child.on("error", (error) => {
        reject(error);
        this.#stop(child, { restart: false });
      });
    });
    this.#ready.catch(() => {}); // observed by start() and #call(); no unhandled rejection when idle
    this.#send(child, { type: "open", datasets: this.#catalog, options: this.#options });
  }

  async #call(request: DistributiveOmit<Extract<HostRequest, { id: number }>, "id">, signal: AbortSignal | undefined): Promise<unknown> {
    if (this.#closed) throw new ToolError("TOOL_FAILED", "the SQL engine is closed");
    if (signal?.aborted) throw cancelled();
    if (!this.#child) this.#spawn(); // restarted lazily after a failed start
    const child = this.#child;
    if (!child) throw new ToolError("TOOL_FAILED", "the SQL process is not running", { retryable: true });
    this.#active++;
    this.#hold(child, true);
    try {
      try {
        await this.#ready; // the time limit starts once the process has loaded the datasets
      } catch (error) {
        const message = `the SQL process could not start: ${(error as Error).message}`;
        throw new ToolError("TOOL_FAILED", message, { retryable: true, cause: error });
      }
      if (this.#child !== child) throw new ToolError("TOOL_FAILED", "the SQL process was restarted; retry", { retryable: true });
      const reply = await this.#exchange(child, request, signal);
      if (reply.ok) return reply.value;
      throw toError(reply.error);
    } finally {
      if (--this.#active === 0 && this.#child) {
        if (this.#recycle) this.#stop(this.#child);
        else this.#hold(this.#child, false);
      }
    }
  }

  /**
   * Sends one call and waits for its reply. The engine interrupts a query at its time limit;
   * one still running {@link KILL_GRACE_MS} later is ended by killing the process, and so is a
   * call that does not answer that long after its signal aborted.
   */
  async #exchange(
    child: ChildProcess,
    request: DistributiveOmit<Extract<HostRequest, { id: number }>, "id">,
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    const id = this.#nextId++;
    const run = this.#runs.begin(this.limits.timeoutMs);
    try {
      return await new Promise<Reply>((resolve) => {
        let killTimer: NodeJS.Timeout | undefined;
        const backstop = setTimeout(() => {
          run.timedOut = true;
          const why = (r: QueryRun): ToolError =>
            timeLimitExceeded(this.limits.timeoutMs, r.shared, "was stopped by restarting the SQL process (it ignored the interrupt)");
          this.#stop(child, { culprit: id, why });
        }, this.limits.timeoutMs + KILL_GRACE_MS);
        const onAbort = (): void => {
          this.#send(child, { type: "cancel", id });
          killTimer ??= setTimeout(() => this.#stop(child, { culprit: id, why: () => cancelled() }), KILL_GRACE_MS);
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.#pending.set(id, {
          run,
          settle: (answer) => {
            clearTimeout(backstop);
            clearTimeout(killTimer);
            signal?.removeEventListener("abort", onAbort);
            this.#pending.delete(id);
            resolve(answer);
          },
        });
        this.#send(child, { ...request, id });
      });
    } finally {
      this.#runs.end(run);
    }
  }

  #send(child: ChildProcess, request: HostRequest): void {
    // A failed send means the process is gone: its exit settles the calls.
    if (!child.connected) return;
    child.send(request, (error) => {
      if (error) this.#stop(child);
    });
  }

  /**
   * Kills `child` if it is still the current process: the call `culprit` fails with `why(run)`,
   * the others in flight with a retryable error; a new process is started unless closed or
   * `restart` is false (a process that failed to start is not restarted in a loop).
   */
  #stop(child: ChildProcess, how: { culprit?: number; why?: (run: QueryRun) => ToolError; restart?: boolean } = {}): void {
    const { culprit, why, restart = true } = how;
    if (this.#child !== child) return;
    this.#child = undefined;
    child.kill("SIGKILL");
    this.#settleAll((id, run) =>
      id === culprit && why
        ? info(why(run))
        : { code: "TOOL_FAILED", message: "interrupted: the SQL process was restarted because of another query; retry", retryable: true },
    );
    if (restart && !this.#closed) this.#spawn();
  }

  /**
   * DuckDB and its allocator keep memory they once used mapped (a list() that ran into the limit
   * leaves ~1.9 GiB of 1.9 GiB in place), and under RLIMIT_DATA that would make later queries fail
   * too. So a process holding more than half its headroom above what it held after loading is
   * restarted as soon as no call is in flight.
   */
  #noteMemory(memory: HostMemory): void {
    this.#lastMemory = memory;
    const baseline = this.#info.memory.dataBytes;
    if (memory.dataBytes === null || baseline === null) return;
    if (memory.dataBytes > baseline + (this.processMemoryLimitBytes - baseline) / 2) this.#recycle = true;
  }

  /** The SQL process died on its own (out of memory, a crash): a query running alone is the cause. */
  #onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child !== child) return; // killed by #stop or close(), already settled
    this.#child = undefined;
    const inFlight = [...this.#pending.values()];
    const alone = inFlight.length === 1 && inFlight[0]?.run.shared === false;
    const how = signal ?? `exit code ${code}`;
    this.#settleAll((_id, run) =>
      alone
        ? info(memoryExceeded(this.#errors, run.shared, `The SQL process died (${how}) running this query and was restarted.`))
        : { code: "TOOL_FAILED", message: `the SQL process died (${how}) while several queries ran; retry`, retryable: true },
    );
    if (!this.#closed && inFlight.length > 0) this.#spawn();
  }

  #settleAll(error: (id: number, run: QueryRun) => HostError): void {
    for (const [id, pending] of [...this.#pending]) pending.settle({ ok: false, error: error(id, pending.run) });
  }

  /** The process and its channel keep the agent alive only while calls are in flight. */
  #hold(child: ChildProcess, on: boolean): void {
    if (on) {
      child.ref();
      child.channel?.ref();
    } else {
      child.unref();
      child.channel?.unref();
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const info = (error: ToolError | BatonError): HostError => ({ code: error.code, message: error.message, retryable: error.retryable });

/** A reply's error as the class the executor reads (ToolError for tool codes, else BatonError). */
function toError(error: HostError): ToolError | BatonError {
  return TOOL_ERROR_CODES.has(error.code)
    ? new ToolError(error.code as ToolErrorCode, error.message, { retryable: error.retryable })
    : new BatonError(error.code, error.message, { retryable: error.retryable });
}
