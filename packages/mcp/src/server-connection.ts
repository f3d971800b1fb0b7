import { backoffDelayMs, type Logger } from "@baton/core";
import { type Tool, type ToolContext, ToolError } from "@baton/tools";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  type Tool as McpTool,
  ToolListChangedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { type BuiltTool, buildServerTools } from "./baton-tools.ts";
import type { McpServerConfig } from "./config.ts";
import { failureKind, hasCode, toToolError } from "./errors.ts";
import { toolErrorOf, toToolOutput } from "./output.ts";
import { createTransport, transportKind } from "./transport.ts";

/**
 * Where a server connection stands:
 * - `starting`: the first connection is being made;
 * - `up`: connected; calls go to the server;
 * - `restarting`: the server died or the connection failed; calls fail fast (retryable) while it
 *   is restarted with backoff; its tools stay listed;
 * - `closed`: closed for good ({@link McpServerConnection.close}, or the first start failed).
 */
export type McpServerStatus = "starting" | "up" | "restarting" | "closed";

/** A connection that stayed up this long (ms) restarts from the initial delay when it fails. */
export const STABLE_CONNECTION_MS = 10_000;
/** Time limit of the ping that checks an HTTP connection after a transport error, in ms. */
export const HEALTH_CHECK_TIMEOUT_MS = 5_000;
/** Lines of a stdio server's stderr kept to explain its exit. */
const STDERR_TAIL_LINES = 20;
/** Most pages of `tools/list` read in one listing. */
const MAX_LIST_PAGES = 100;
/** How long closing waits for an HTTP session's DELETE, in ms. */
const TERMINATE_SESSION_MS = 2_000;

/** What a {@link McpServerConnection} needs besides its config. */
export interface McpServerConnectionOptions {
  readonly logger: Logger;
  /** Time limit of connecting (initialize) and of each `tools/list` request, in ms. */
  readonly connectTimeoutMs: number;
  /** How the client introduces itself to servers. */
  readonly clientInfo: { readonly name: string; readonly version: string };
  /** Called after the server's exposed tools changed (a first listing, a list change, a restart). */
  readonly onToolsChanged: () => void;
}

/** One live MCP session: the client of one connection attempt. */
interface Session {
  readonly generation: number;
  readonly client: Client;
  readonly transport: Transport;
  readonly connectedAt: number;
}

/**
 * One MCP server as a source of Baton tools: connects through the official SDK's client
 * (stdio or Streamable HTTP), lists the tools (all pages) and exposes the allowlisted ones, keeps
 * them in step with `notifications/tools/list_changed`, and restarts the server with exponential
 * backoff when it dies (a stdio child exits, or an HTTP connection fails a health check after a
 * transport error). Every asynchronous failure is caught and logged: nothing rejects unhandled.
 */
export class McpServerConnection {
  readonly id: string;
  readonly #server: McpServerConfig;
  readonly #options: McpServerConnectionOptions;
  readonly #log: Logger;
  #status: McpServerStatus = "starting";
  #generation = 0;
  #session: Session | undefined;
  #pending: { client: Client } | undefined;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #nextAttemptAt = 0;
  #lastFailure = "";
  #built = new Map<string, BuiltTool>();
  #tools: readonly Tool[] = [];
  #stderrTail: string[] = [];
  #relisting: Promise<void> | undefined;
  #relistAgain = false;
  #checking = false;
  #closing: Promise<void> | undefined;

  constructor(id: string, server: McpServerConfig, options: McpServerConnectionOptions) {
    this.id = id;
    this.#server = server;
    this.#options = options;
    this.#log = options.logger;
  }

  /** Where the connection stands now. */
  get status(): McpServerStatus {
    return this.#status;
  }

  /** The Baton tools exposed now (the last listing's; kept while the server restarts). */
  tools(): readonly Tool[] {
    return this.#tools;
  }

  /**
   * Connects for the first time and lists the tools. Not retried: a server that cannot start is a
   * configuration problem to report at once.
   * @throws Error naming the server and the reason (spawn failure, initialize timeout, HTTP error).
   */
  async start(): Promise<void> {
    if (Object.keys(this.#server.tools).length === 0) {
      this.#log.warn({ server: this.id }, `MCP server "${this.id}" has no allowlisted tools ("tools"): it exposes nothing`);
    }
    try {
      await this.#connect();
    } catch (error) {
      this.#status = "closed";
      const tail = this.#stderrTail.length > 0 ? `; its stderr ended with: ${this.#stderrTail.slice(-5).join(" | ")}` : "";
      throw new Error(`MCP server "${this.id}" could not be started: ${messageOf(error)}${tail}`, { cause: error });
    }
  }

  /** Closes the session (a stdio child is stopped: stdin closed, then SIGTERM, then SIGKILL) and stops restarts. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#status = "closed";
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const session = this.#session;
    const pending = this.#pending;
    this.#session = undefined;
    this.#pending = undefined;
    this.#closing = Promise.all([session ? endSession(session) : undefined, pending ? closeQuietly(pending.client) : undefined]).then(
      () => {
        this.#log.info({ server: this.id }, `MCP server "${this.id}" closed`);
      },
    );
    return this.#closing;
  }

  /**
   * Calls an MCP tool with the call's signal and time limit (ms).
   * @returns the Baton output ({@link toToolOutput}).
   * @throws ToolError: TOOL_FAILED retryable at once while the server restarts or after close;
   *   TOOL_FAILED not retryable for an `isError` result (its text as the message); else as
   *   {@link toToolError} maps the failure.
   */
  readonly call = async (mcpName: string, args: Record<string, unknown>, ctx: ToolContext, timeoutMs: number): Promise<unknown> => {
    const session = this.#session;
    if (!session || this.#status !== "up") throw this.#unavailable();
    let result: CallToolResult;
    try {
      result = (await session.client.callTool({ name: mcpName, arguments: args }, undefined, {
        signal: ctx.signal,
        timeout: timeoutMs,
      })) as CallToolResult;
    } catch (error) {
      if (ctx.signal.aborted && !(error instanceof McpError)) {
        // Aborted before the request was sent: the SDK throws the signal's reason.
        throw new ToolError("TOOL_TIMEOUT", `MCP tool ${mcpName} of server "${this.id}" was cancelled`, { retryable: true, cause: error });
      }
      if (failureKind(error) === "connection") this.#check(session);
      throw toToolError(error, this.id, mcpName);
    }
    if (result.isError === true) throw toolErrorOf(result, this.id, mcpName);
    return toToolOutput(result);
  };

  /** One connection attempt: a new transport and client, initialize, list tools, expose them. */
  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    const transport = createTransport(this.#server, (line) => this.#stderr(line));
    const client = new Client(this.#options.clientInfo, { capabilities: {} });
    let changedWhileConnecting = false;
    client.onclose = () => this.#lost(generation, "the connection closed");
    client.onerror = (error) => this.#transportError(generation, error);
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      if (this.#session?.generation === generation) this.#relist();
      else changedWhileConnecting = true;
    });
    this.#pending = { client };
    try {
      await client.connect(transport, { timeout: this.#options.connectTimeoutMs });
      const listed = await listAllTools(client, this.#options.connectTimeoutMs);
      if (this.#closed()) {
        await closeQuietly(client);
        return;
      }
      this.#session = { generation, client, transport, connectedAt: Date.now() };
      this.#status = "up";
      this.#apply(listed);
    } catch (error) {
      await closeQuietly(client);
      throw error;
    } finally {
      if (this.#pending?.client === client) this.#pending = undefined;
    }
    if (changedWhileConnecting) this.#relist();
  }

  /** Exposes a new listing; tells the provider when the exposed tools changed. */
  #apply(listed: readonly McpTool[]): void {
    const built = buildServerTools(this.id, this.#server, listed, this.#built, this.call, this.#log);
    const tools = [...built.values()].map((b) => b.tool);
    const changed = tools.length !== this.#tools.length || tools.some((tool, i) => tool !== this.#tools[i]);
    this.#built = built;
    this.#tools = tools;
    if (changed) {
      this.#log.info({ server: this.id, tools: tools.map((t) => t.name) }, `MCP server "${this.id}" exposes ${tools.length} tool(s)`);
      this.#options.onToolsChanged();
    }
  }

  /** Lists the tools again (after `list_changed`); one listing at a time, repeated when asked again meanwhile. */
  #relist(): void {
    if (this.#relisting) {
      this.#relistAgain = true;
      return;
    }
    this.#relisting = (async () => {
      do {
        this.#relistAgain = false;
        const session = this.#session;
        if (!session || this.#status !== "up") return;
        try {
          const listed = await listAllTools(session.client, this.#options.connectTimeoutMs);
          if (this.#session === session) this.#apply(listed);
        } catch (error) {
          this.#log.warn({ server: this.id, err: messageOf(error) }, `could not list the tools of MCP server "${this.id}" again`);
          if (failureKind(error) === "connection") this.#check(session);
        }
      } while (this.#relistAgain);
    })().finally(() => {
      this.#relisting = undefined;
    });
  }

  /** The session of `generation` is gone: mark the server down and restart it. */
  #lost(generation: number, reason: string): void {
    const session = this.#session;
    if (this.#status === "closed" || session?.generation !== generation) return;
    this.#session = undefined;
    this.#status = "restarting";
    if (Date.now() - session.connectedAt >= STABLE_CONNECTION_MS) this.#attempt = 0;
    this.#lastFailure = reason;
    this.#log.warn(
      { server: this.id, reason, ...(this.#stderrTail.length > 0 ? { stderr: this.#stderrTail.slice(-5) } : {}) },
      `MCP server "${this.id}" is down (${reason}); restarting it`,
    );
    void closeQuietly(session.client);
    this.#scheduleRestart();
  }

  #scheduleRestart(): void {
    this.#attempt += 1;
    const { initialDelayMs, maxDelayMs } = this.#server.restart;
    const delayMs = backoffDelayMs(this.#attempt, initialDelayMs, maxDelayMs);
    this.#nextAttemptAt = Date.now() + delayMs;
    this.#log.info({ server: this.id, attempt: this.#attempt, delayMs }, `restarting MCP server "${this.id}" in ${delayMs} ms`);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#restart();
    }, delayMs);
    this.#timer.unref();
  }

  async #restart(): Promise<void> {
    if (this.#status === "closed") return;
    try {
      await this.#connect();
      if (this.#status === "up") this.#log.info({ server: this.id, attempt: this.#attempt }, `MCP server "${this.id}" is back`);
    } catch (error) {
      if (this.#closed()) return;
      this.#lastFailure = messageOf(error);
      this.#log.warn({ server: this.id, attempt: this.#attempt, err: this.#lastFailure }, `MCP server "${this.id}" did not come back`);
      this.#scheduleRestart();
    }
  }

  /**
   * A transport error on the live session. A stdio server that died closes the connection (handled
   * by `onclose`); an HTTP connection is checked with a ping.
   */
  #transportError(generation: number, error: Error): void {
    const session = this.#session;
    if (session?.generation !== generation) return; // errors while connecting reject the connect
    this.#log.debug({ server: this.id, err: error.message }, `transport error of MCP server "${this.id}"`);
    if (transportKind(this.#server) === "http") this.#check(session);
  }

  /** Pings the session; a ping that fails on the connection (or times out) restarts the server. */
  #check(session: Session): void {
    if (this.#checking || this.#session !== session) return;
    this.#checking = true;
    void session.client
      .ping({ timeout: HEALTH_CHECK_TIMEOUT_MS })
      .then(
        () => undefined,
        (error: unknown) => {
          const alive =
            error instanceof McpError && !hasCode(error, ErrorCode.RequestTimeout) && !hasCode(error, ErrorCode.ConnectionClosed);
          if (!alive) this.#lost(session.generation, `health check failed: ${messageOf(error)}`);
        },
      )
      .finally(() => {
        this.#checking = false;
      });
  }

  /** Whether {@link close} was called (a method, so that checks after an `await` are not narrowed away). */
  #closed(): boolean {
    return this.#status === "closed";
  }

  #unavailable(): ToolError {
    if (this.#status === "closed") return new ToolError("TOOL_FAILED", `MCP server "${this.id}" is closed`, { retryable: true });
    const waitMs = Math.max(0, this.#nextAttemptAt - Date.now());
    const last = this.#lastFailure ? ` after: ${this.#lastFailure}` : "";
    return new ToolError(
      "TOOL_FAILED",
      `MCP server "${this.id}" is restarting${last} (attempt ${this.#attempt}, next try in ${waitMs} ms); try again shortly`,
      { retryable: true },
    );
  }

  #stderr(line: string): void {
    this.#stderrTail.push(line);
    if (this.#stderrTail.length > STDERR_TAIL_LINES) this.#stderrTail.shift();
    this.#log.debug({ server: this.id, stderr: line }, "MCP server stderr");
  }
}

/** Every tool the server lists, following `nextCursor` (at most 100 pages); none when it has no tools capability. */
async function listAllTools(client: Client, timeoutMs: number): Promise<McpTool[]> {
  if (!client.getServerCapabilities()?.tools) return [];
  const tools: McpTool[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: timeoutMs });
    tools.push(...result.tools);
    if (!result.nextCursor) break;
    cursor = result.nextCursor;
  }
  return tools;
}

/** Ends a session for good: an HTTP session is terminated (DELETE, at most 2 s), then the client closed. */
async function endSession(session: Session): Promise<void> {
  const { transport } = session;
  if (transport instanceof StreamableHTTPClientTransport && transport.sessionId !== undefined) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      transport.terminateSession().catch(() => undefined),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, TERMINATE_SESSION_MS);
      }),
    ]);
    clearTimeout(timer);
  }
  await closeQuietly(session.client);
}

/** Closes a client (and its transport: a stdio child is stopped), ignoring errors. */
async function closeQuietly(client: Client): Promise<void> {
  try {
    await client.close();
  } catch {
    // already closed, or the transport failed while closing: nothing left to release
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
