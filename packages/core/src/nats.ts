import { readFileSync } from "node:fs";
import { inboxPrefixOf } from "@baton/contracts";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { credentialsUser } from "./auth.ts";
import { sleep } from "./backoff.ts";
import { BatonError, TransientError } from "./errors.ts";

export type { NatsConnection } from "@nats-io/transport-node";

/** Options of {@link connectNats}. */
export interface ConnectOptions {
  /**
   * Path of a NATS `.creds` file (user JWT + seed). The connection then authenticates as that
   * user and uses its inbox prefix (`_INBOX.<user>`), the only inbox its permissions allow.
   */
  readonly credsFile?: string | undefined;
}

/**
 * Connects to NATS and reconnects forever (every 500 ms) so a server restart never takes a
 * service down. Connection status changes and permission violations are logged (a violation
 * names the subject only: never credentials).
 * @param url comma-separated server URLs.
 * @throws when the first connection attempt fails (the caller decides whether to retry), or when
 *   the credentials file cannot be read.
 */
export async function connectNats(url: string, name: string, logger?: Logger, options: ConnectOptions = {}): Promise<NatsConnection> {
  const creds = options.credsFile ? readFileSync(options.credsFile, "utf8") : undefined;
  const nc = await connect({
    servers: url.split(",").map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // nats.js otherwise builds an Error (a stack capture) per request to give timeouts an async
    // trace; the benchmark measured that as the largest single CPU cost of a step.
    noAsyncTraces: true,
    ...(creds
      ? { authenticator: credsAuthenticator(new TextEncoder().encode(creds)), inboxPrefix: inboxPrefixOf(credentialsUser(creds)) }
      : {}),
  });
  connectionWatch(nc); // from the first moment: its state must not miss the first disconnect
  if (logger) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type }, `nats ${status.type}`);
        if (status.type === "error") logger.error({ nats: "error", err: status.error }, `nats error: ${status.error.message}`);
      }
    })().catch((error: unknown) => logger.error({ err: error }, "nats status listener ended"));
  }
  return nc;
}

/**
 * True when `error` says the broker could not be reached or did not answer in time — a request
 * lost with a nats-server that died (`TimeoutError`), one cut by a disconnect, no responders
 * while JetStream restarts, JetStream "temporarily unavailable" (503) — so the same operation
 * may succeed once the client has reconnected. False for everything else: a compare-and-set
 * conflict, a permission violation, a closed or draining connection (shutdown), a missing stream.
 * The one place Baton decides that a NATS failure is a passing broker outage.
 */
export function isBrokerUnavailable(error: unknown): boolean {
  if (error instanceof BatonError) return false;
  if (!(error instanceof Error)) return false;
  const cause = error.cause instanceof Error ? ` ${error.cause.name} ${error.cause.message}` : "";
  const text = `${error.name} ${error.message}${cause}`;
  if (/ClosedConnectionError|DrainingConnectionError|PermissionViolation|Authorization|wrong last sequence|10071/i.test(text)) return false;
  return (
    error.name === "TimeoutError" ||
    error.name === "NoResponders" ||
    error.name === "ConnectionError" ||
    error.name === "JetStreamNotEnabled" ||
    /\btimeout\b|connection disconnected|no responders|temporarily unavailable|ECONNRESET|ECONNREFUSED|EPIPE/i.test(text)
  );
}

/**
 * Whether a connection is up, kept from its status events. nats.js drops what is published while
 * it is disconnected (its outbound buffer is reset when it dials again: measured, every request
 * sent during an outage then times out after the full request timeout), so Baton waits for the
 * reconnect instead of sending into the void, and gives up on a request in flight when the
 * connection drops under it (its reply cannot come).
 */
export class ConnectionWatch {
  #connected: boolean;
  /** When the connection last came back after a disconnect (ms since the epoch), 0 if never. */
  #reconnectedAt = 0;
  #upWaiters = new Set<() => void>();
  #downListeners = new Set<() => void>();

  constructor(nc: NatsConnection) {
    this.#connected = !nc.isClosed() && nc.info !== undefined;
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "staleConnection") this.#setConnected(false);
        else if (status.type === "reconnect") this.#setConnected(true);
      }
    })().catch(() => this.#setConnected(false));
    void nc.closed().then(() => {
      this.#connected = false;
      // Nobody waits for a closed connection: wake them, they find it closed.
      for (const wake of this.#upWaiters) wake();
      this.#upWaiters.clear();
    });
  }

  /** True while the connection is up (as far as its status events tell). */
  get connected(): boolean {
    return this.#connected;
  }

  /** Milliseconds since the connection last came back after a disconnect (Infinity if it never dropped). */
  msSinceReconnect(now = Date.now()): number {
    return this.#reconnectedAt === 0 ? Number.POSITIVE_INFINITY : now - this.#reconnectedAt;
  }

  /** Calls `listener` at the next disconnect; returns the function that removes it. */
  onDisconnect(listener: () => void): () => void {
    this.#downListeners.add(listener);
    return () => this.#downListeners.delete(listener);
  }

  /**
   * Resolves true once the connection is up (at once when it is), false after `timeoutMs`, when
   * `signal` aborts or the connection closes.
   */
  async whenConnected(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.#connected) return true;
    if (signal?.aborted) return false;
    return new Promise<boolean>((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#upWaiters.delete(onUp);
        resolve(up);
      };
      const onUp = () => done(this.#connected);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#upWaiters.add(onUp);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #setConnected(up: boolean): void {
    if (this.#connected === up) return;
    this.#connected = up;
    if (up) this.#reconnectedAt = Date.now();
    const callbacks = up ? [...this.#upWaiters] : [...this.#downListeners];
    if (up) this.#upWaiters.clear();
    else this.#downListeners.clear();
    for (const cb of callbacks) cb();
  }
}

const watches = new WeakMap<NatsConnection, ConnectionWatch>();

/** How recently a message must have been stored for {@link isFreshDelivery}, in ms. */
export const FRESH_DELIVERY_MS = 2_000;
/** How long after a reconnect no delivery counts as fresh ({@link isFreshDelivery}), in ms. */
export const RECONNECT_SETTLE_MS = 60_000;

/**
 * Whether a JetStream delivery can be trusted to be current work without reading task state: its
 * first delivery, of a message stored at most {@link FRESH_DELIVERY_MS} ago, on a connection that
 * has not reconnected in the last {@link RECONNECT_SETTLE_MS}. A stale message reaches a consumer
 * as a first delivery only when a restarted nats-server 2.9 brings back messages that were acked
 * (their removal was not on disk) — and every connection sees that restart as a reconnect. Work
 * that waited in its stream for longer, and every redelivery, are checked against task state.
 */
export function isFreshDelivery(
  msg: { readonly info: { readonly deliveryCount: number }; readonly time: Date },
  nc: NatsConnection,
): boolean {
  const now = Date.now();
  return (
    msg.info.deliveryCount === 1 &&
    now - msg.time.getTime() <= FRESH_DELIVERY_MS &&
    connectionWatch(nc).msSinceReconnect(now) > RECONNECT_SETTLE_MS
  );
}

/** The {@link ConnectionWatch} of `nc` (one per connection, started on first use; {@link connectNats} starts it). */
export function connectionWatch(nc: NatsConnection): ConnectionWatch {
  let watch = watches.get(nc);
  if (!watch) {
    watch = new ConnectionWatch(nc);
    watches.set(nc, watch);
  }
  return watch;
}

/** The connection a JetStream client (or KV) was made on — nats.js keeps it as `nc` — if it can be told. */
export function connectionOf(client: object): NatsConnection | undefined {
  const nc: unknown = (client as { nc?: unknown }).nc;
  return nc !== null && typeof nc === "object" && "status" in nc && "isClosed" in nc ? (nc as NatsConnection) : undefined;
}

/** Options of {@link retryWhileUnavailable}. */
export interface RetryWhileUnavailableOptions {
  /** What is being done, for the error and the log, e.g. `record the effect of charge`. */
  readonly what: string;
  /** How long to keep trying, in ms from the first attempt; default 20,000 (several reconnects). */
  readonly forMs?: number;
  /** First pause between attempts, in ms, doubled up to 1,000; default 100. */
  readonly initialDelayMs?: number;
  /**
   * The connection `op` goes through: while it is down, the next attempt waits for the reconnect
   * (what is sent meanwhile is lost); when it drops during an attempt, that attempt is given up at
   * once (its reply cannot come; its late failure is logged at debug level) and `op` runs again
   * after the reconnect. Without it, a lost request costs its full timeout.
   */
  readonly nc?: NatsConnection | undefined;
  /** Logs each failed attempt at warn level. */
  readonly logger?: Logger | undefined;
  /** Stops retrying (the last error is thrown, wrapped) when it aborts. */
  readonly signal?: AbortSignal | undefined;
}

/** Marks an attempt given up because the connection dropped under it. */
const DROPPED = Symbol("connection dropped");

/**
 * Runs `op`, and runs it again while it fails with a broker outage ({@link isBrokerUnavailable})
 * and `forMs` has not passed, pausing 100 ms → 1 s between attempts (and, with `nc`, waiting for
 * the reconnect). `op` must be safe to repeat: an idempotent read, a publish with a
 * `Nats-Msg-Id`, a compare-and-set (whose repeat after a lost reply fails its CAS and is handled
 * by the caller).
 * @throws TransientError (retryable) wrapping the last outage once `forMs` has passed; any other
 *   error of `op` at once, unchanged.
 */
export async function retryWhileUnavailable<T>(op: () => Promise<T>, options: RetryWhileUnavailableOptions): Promise<T> {
  const deadline = Date.now() + (options.forMs ?? 20_000);
  const watch = options.nc ? connectionWatch(options.nc) : undefined;
  let delayMs = options.initialDelayMs ?? 100;
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (watch && !(await watch.whenConnected(Math.max(0, deadline - Date.now()), options.signal))) {
      throw new TransientError(`could not ${options.what}: the broker is unavailable (not connected)`, lastError);
    }
    try {
      return await attemptOnce(op, watch, options);
    } catch (error) {
      lastError = error;
      if (error !== DROPPED && !isBrokerUnavailable(error)) throw error;
      if (Date.now() + delayMs > deadline || options.signal?.aborted) {
        const cause = error === DROPPED ? new Error("the connection dropped while waiting for the reply") : error;
        throw new TransientError(`could not ${options.what}: the broker is unavailable (${attempt} attempts)`, cause);
      }
      if (error !== DROPPED) {
        options.logger?.warn({ err: error, attempt, delayMs }, `could not ${options.what}; the broker is unavailable: retrying`);
        await sleep(delayMs, options.signal);
        delayMs = Math.min(1_000, delayMs * 2);
      }
    }
  }
}

/**
 * Runs `op` once — a request that must not be sent twice blindly, e.g. a compare-and-set — and
 * gives up waiting for it when the connection drops before it settles (its reply cannot come;
 * without this, the request would only fail at its timeout).
 * @throws TransientError when the connection dropped (the request may or may not have landed:
 *   the caller's retry must find out, e.g. by reading back); whatever `op` throws.
 */
export async function unlessDisconnected<T>(
  op: () => Promise<T>,
  options: { what: string; nc: NatsConnection; logger?: Logger },
): Promise<T> {
  try {
    return await attemptOnce(op, connectionWatch(options.nc), options);
  } catch (error) {
    if (error === DROPPED) throw new TransientError(`could not ${options.what}: the connection dropped before the reply`);
    throw error;
  }
}

/** One attempt of `op`, given up (rejecting with {@link DROPPED}) when the connection drops before it settles. */
async function attemptOnce<T>(
  op: () => Promise<T>,
  watch: ConnectionWatch | undefined,
  options: { what: string; logger?: Logger | undefined },
): Promise<T> {
  const pending = op();
  if (!watch) return pending;
  let remove: (() => void) | undefined;
  const dropped = new Promise<typeof DROPPED>((resolve) => {
    remove = watch.onDisconnect(() => resolve(DROPPED));
  });
  try {
    const first = await Promise.race([pending, dropped]);
    if (first === DROPPED) {
      pending.catch((error: unknown) => options.logger?.debug({ err: error }, `abandoned attempt to ${options.what} failed`));
      throw DROPPED;
    }
    return first;
  } finally {
    remove?.();
  }
}
