import { ToolError, type ToolErrorCode } from "@baton/tools";

/** A worker's answer to one request. */
export type WorkerReply<O> =
  | { readonly ok: true; readonly output: O }
  | { readonly ok: false; readonly code: ToolErrorCode; readonly message: string; readonly retryable?: boolean };

/** What a worker sends: `"ready"` once, when it can take requests, then one {@link WorkerReply} per request. */
export type WorkerMessage<O> = "ready" | WorkerReply<O>;

/** How a started worker reports to its pool. */
export interface WorkerEvents<O> {
  /** A message from the worker. */
  message(message: WorkerMessage<O>): void;
  /** The worker ended by itself (crashed, exited, ran out of memory); `error` is what its call fails with. */
  exit(error: ToolError): void;
}

/** A started worker (a thread or a process), as its backend hands it to the pool. */
export interface WorkerHandle<I> {
  /** Sends one request. @throws when it cannot be sent (e.g. a value that cannot be cloned). */
  post(request: I): void;
  /** Stops the worker at once (terminate / SIGKILL), whatever it is running; no event follows. */
  kill(): void;
  /** Whether the worker keeps the host process alive (the pool holds it only while it has work). */
  hold(on: boolean): void;
}

/** Starts one worker that reports to `events` (backends: pool-thread.ts, pool-process.ts). */
export type StartWorker<I, O> = (events: WorkerEvents<O>) => WorkerHandle<I>;

/** Options of a {@link WorkerPool}. */
export interface WorkerPoolOptions<I, O> {
  /** What one worker is called in error messages, e.g. "sandbox thread". */
  readonly name: string;
  /** Most workers at once, each running one request at a time; 1..256. */
  readonly size: number;
  /** Workers started at once and kept when idle, 0..size; more start on demand. Default `size`. */
  readonly warm?: number;
  /** A worker beyond `warm` idle this long (ms) is stopped. Default 60,000. */
  readonly idleStopMs?: number;
  /** After a worker failed to start, no other starts for this long (ms). Default 1,000. */
  readonly restartDelayMs?: number;
  /**
   * A request that could run starts another worker (up to `size`) only once it has waited this long (ms) for a
   * free one: with workers that are slow to start, short calls then queue behind each other instead of paying
   * for a start, while a call stuck behind a long one still gets its own worker. Default 0 (at once).
   */
  readonly growAfterMs?: number;
  readonly start: StartWorker<I, O>;
}

/** One request to a {@link WorkerPool}. */
export interface PoolRequest<I> {
  readonly request: I;
  /**
   * Hard limit in ms, counted from when a worker takes the request (time in the queue is not counted):
   * then the worker is stopped and replaced, and the call fails with `TOOL_TIMEOUT` (not retryable).
   */
  readonly limitMs: number;
  /** The message of that timeout. */
  readonly timeoutMessage: string;
  /** Aborting drops a queued call, or stops the worker running it (then replaced): `TOOL_TIMEOUT`, `cancelMessage`. */
  readonly signal?: AbortSignal | undefined;
  /** Default "cancelled". */
  readonly cancelMessage?: string;
  /**
   * Requests with the same key run one after another, so one key (one step) never holds more than one worker
   * and, with a worker per slot of the agent, no step waits for the workers of another.
   */
  readonly key?: string | undefined;
}

/** Counters of a pool. */
export interface PoolStats {
  /** Workers alive (starting, idle or busy). */
  readonly workers: number;
  /** Workers running a request. */
  readonly busy: number;
  /** Requests waiting for a worker. */
  readonly queued: number;
  /** Workers started since the pool was made, replacements included. */
  readonly started: number;
  /** Workers stopped or ended since the pool was made. */
  readonly stopped: number;
}

interface Job<I, O> {
  readonly req: PoolRequest<I>;
  /** When it was queued (performance.now(), ms). */
  readonly queuedAt: number;
  readonly resolve: (output: O) => void;
  readonly reject: (error: Error) => void;
  slot?: Slot<I, O>;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

interface Slot<I, O> {
  handle?: WorkerHandle<I>;
  state: "starting" | "idle" | "busy";
  job?: Job<I, O>;
  idleTimer?: NodeJS.Timeout;
  warmup?: { resolve(): void; reject(error: Error): void };
}

/**
 * A pool of workers — threads or processes, one request at a time each — that run CPU-bound calls off
 * the service's event loop, so heartbeats, cancellations and other steps go on while a call spins.
 * A call over its hard limit, or whose signal aborts, has its worker stopped (terminate / SIGKILL) and
 * replaced: nothing is left running. A worker that crashes fails only the call it ran, with the error its
 * backend describes; the pool starts another. Requests wait in order for a free worker (one key at a time).
 */
export class WorkerPool<I, O> {
  readonly #options: WorkerPoolOptions<I, O>;
  readonly #warm: number;
  readonly #slots = new Set<Slot<I, O>>();
  readonly #queue: Job<I, O>[] = [];
  /** Keys of the requests running now. */
  readonly #running = new Set<string>();
  readonly #ready: Promise<void>;
  #closed = false;
  /** No worker starts before this time (performance.now(), ms): set when one failed to start. */
  #restartAt = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #growTimer: NodeJS.Timeout | undefined;
  /** Why the last worker failed to start. */
  #startError: ToolError | undefined;
  #started = 0;
  #stopped = 0;

  /** Starts the `warm` workers; {@link ready} says when they can take requests. @throws RangeError for a bad size. */
  constructor(options: WorkerPoolOptions<I, O>) {
    const { size } = options;
    const warm = options.warm ?? size;
    if (!Number.isInteger(size) || size < 1 || size > 256) throw new RangeError(`${options.name} pool size must be 1..256, got ${size}`);
    if (!Number.isInteger(warm) || warm < 0 || warm > size)
      throw new RangeError(`${options.name} pool warm must be 0..${size}, got ${warm}`);
    this.#options = options;
    this.#warm = warm;
    const warmups = Array.from({ length: warm }, () => new Promise<void>((resolve, reject) => this.#startWorker({ resolve, reject })));
    this.#ready = Promise.all(warmups).then(() => undefined);
    this.#ready.catch(() => {}); // observed through ready()
  }

  /** Resolves once the warm workers are ready; rejects with the error of one that failed to start. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** The pool's counters right now. */
  get stats(): PoolStats {
    const slots = [...this.#slots];
    return {
      workers: slots.length,
      busy: slots.filter((s) => s.state === "busy").length,
      queued: this.#queue.length,
      started: this.#started,
      stopped: this.#stopped,
    };
  }

  /**
   * Runs one request on a free worker.
   * @throws ToolError `TOOL_TIMEOUT` over `limitMs` or when cancelled (the worker is stopped); the worker's own
   *   `{ ok: false }` reply as a ToolError; the backend's error when the worker crashed; `TOOL_FAILED`
   *   (retryable) when the pool is closed or no worker can start.
   */
  run(req: PoolRequest<I>): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      if (this.#closed) return reject(new ToolError("TOOL_FAILED", `the ${this.#options.name} pool is closed`, { retryable: true }));
      const job: Job<I, O> = { req, queuedAt: performance.now(), resolve, reject };
      if (req.signal?.aborted) return reject(cancelled(req));
      if (req.signal) {
        const onAbort = () => this.#abort(job);
        job.onAbort = onAbort;
        req.signal.addEventListener("abort", onAbort, { once: true });
      }
      this.#queue.push(job);
      this.#pump();
    });
  }

  /** Stops every worker; calls in flight or queued fail with `TOOL_FAILED` (retryable). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    clearTimeout(this.#growTimer);
    const error = new ToolError("TOOL_FAILED", `the ${this.#options.name} pool was closed`, { retryable: true });
    for (const slot of [...this.#slots]) {
      const job = slot.job;
      this.#kill(slot);
      if (job) this.#fail(job, error);
      slot.warmup?.reject(error);
    }
    for (const job of this.#queue.splice(0)) this.#fail(job, error);
  }

  #startWorker(warmup?: Slot<I, O>["warmup"]): void {
    const slot: Slot<I, O> = { state: "starting", ...(warmup ? { warmup } : {}) };
    this.#slots.add(slot);
    this.#started++;
    try {
      slot.handle = this.#options.start({ message: (m) => this.#onMessage(slot, m), exit: (e) => this.#onExit(slot, e) });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#onExit(slot, new ToolError("TOOL_FAILED", `the ${this.#options.name} could not start: ${message}`, { retryable: true }));
    }
  }

  #onMessage(slot: Slot<I, O>, message: WorkerMessage<O>): void {
    if (!this.#slots.has(slot)) return; // stopped: whatever it still says is late
    if (message === "ready") {
      if (slot.state !== "starting") return;
      slot.state = "idle";
      slot.warmup?.resolve();
      slot.warmup = undefined;
      this.#idle(slot);
      this.#pump();
      return;
    }
    const job = slot.job;
    if (slot.state !== "busy" || !job) return;
    slot.state = "idle";
    slot.job = undefined;
    this.#settle(job);
    if (message.ok) job.resolve(message.output);
    else job.reject(new ToolError(message.code, message.message, { retryable: message.retryable ?? false }));
    this.#idle(slot);
    this.#pump();
  }

  #onExit(slot: Slot<I, O>, error: ToolError): void {
    if (!this.#slots.has(slot)) return;
    this.#remove(slot);
    if (slot.state === "starting") {
      slot.warmup?.reject(error);
      this.#restartAt = performance.now() + (this.#options.restartDelayMs ?? 1_000);
      this.#startError = error;
    } else if (slot.job) this.#fail(slot.job, error);
    this.#pump();
  }

  // A call over its limit: its worker is stopped, not left running.
  #expire(job: Job<I, O>): void {
    if (job.slot) this.#kill(job.slot);
    this.#fail(job, new ToolError("TOOL_TIMEOUT", job.req.timeoutMessage, { retryable: false }));
    this.#pump();
  }

  #abort(job: Job<I, O>): void {
    const queued = this.#queue.indexOf(job);
    if (queued >= 0) this.#queue.splice(queued, 1);
    else if (job.slot) this.#kill(job.slot);
    else return; // already settled
    this.#fail(job, cancelled(job.req));
    this.#pump();
  }

  #fail(job: Job<I, O>, error: Error): void {
    this.#settle(job);
    job.reject(error);
  }

  // Releases what a job holds: its timer, abort listener and key.
  #settle(job: Job<I, O>): void {
    clearTimeout(job.timer);
    if (job.onAbort) job.req.signal?.removeEventListener("abort", job.onAbort);
    if (job.slot && job.req.key !== undefined) this.#running.delete(job.req.key);
    job.slot = undefined;
  }

  #kill(slot: Slot<I, O>): void {
    if (!this.#remove(slot)) return;
    slot.handle?.kill();
  }

  #remove(slot: Slot<I, O>): boolean {
    if (!this.#slots.delete(slot)) return false;
    clearTimeout(slot.idleTimer);
    this.#stopped++;
    return true;
  }

  // An idle worker beyond the warm ones is stopped after idleStopMs.
  #idle(slot: Slot<I, O>): void {
    clearTimeout(slot.idleTimer);
    if (this.#slots.size <= this.#warm) return;
    slot.idleTimer = setTimeout(() => {
      if (slot.state === "idle" && this.#slots.size > this.#warm) this.#kill(slot);
    }, this.#options.idleStopMs ?? 60_000);
    slot.idleTimer.unref();
  }

  #dispatch(slot: Slot<I, O>, job: Job<I, O>): void {
    clearTimeout(slot.idleTimer);
    slot.state = "busy";
    slot.job = job;
    job.slot = slot;
    if (job.req.key !== undefined) this.#running.add(job.req.key);
    job.timer = setTimeout(() => this.#expire(job), job.req.limitMs);
    try {
      slot.handle?.post(job.req.request);
    } catch (error) {
      slot.state = "idle";
      slot.job = undefined;
      const message = error instanceof Error ? error.message : String(error);
      this.#fail(job, new ToolError("TOOL_FAILED", `the request could not be sent to the ${this.#options.name}: ${message}`));
      this.#idle(slot);
    }
  }

  // Gives waiting requests (in order, one per key) to idle workers, then starts the workers still needed.
  #pump(): void {
    if (this.#closed) return;
    for (let i = 0; i < this.#queue.length; ) {
      const job = this.#queue[i] as Job<I, O>;
      if (job.req.key !== undefined && this.#running.has(job.req.key)) {
        i++;
        continue;
      }
      const idle = [...this.#slots].find((s) => s.state === "idle");
      if (!idle) break;
      this.#queue.splice(i, 1);
      this.#dispatch(idle, job);
    }
    // Requests that could run now (one per key) and have waited long enough to deserve a worker of their own.
    const now = performance.now();
    const growAfterMs = this.#options.growAfterMs ?? 0;
    const keys = new Set<string>();
    let runnable = 0;
    let growAt = Infinity;
    for (const job of this.#queue) {
      const { key } = job.req;
      if (key !== undefined && (this.#running.has(key) || keys.has(key))) continue;
      if (key !== undefined) keys.add(key);
      if (now - job.queuedAt >= growAfterMs) runnable++;
      else growAt = Math.min(growAt, job.queuedAt + growAfterMs);
    }
    clearTimeout(this.#growTimer);
    if (growAt < Infinity) this.#growTimer = setTimeout(() => this.#pump(), growAt - now);
    const starting = [...this.#slots].filter((s) => s.state === "starting").length;
    const wanted = Math.min(this.#options.size - this.#slots.size, Math.max(this.#warm - this.#slots.size, runnable - starting));
    const wait = this.#restartAt - now;
    if (wait > 0 && this.#slots.size === 0 && this.#startError) {
      // No worker, and none may start for a while: fail the queue now rather than at each caller's timeout.
      const message = `the ${this.#options.name} could not start: ${this.#startError.message}`;
      for (const job of this.#queue.splice(0)) this.#fail(job, new ToolError("TOOL_FAILED", message, { retryable: true }));
    }
    if (wanted > 0 && wait > 0) {
      clearTimeout(this.#restartTimer);
      this.#restartTimer = setTimeout(() => this.#pump(), wait);
      if (this.#queue.length === 0) this.#restartTimer.unref();
    } else for (let n = 0; n < wanted && this.#restartAt <= performance.now(); n++) this.#startWorker();
    for (const slot of this.#slots) slot.handle?.hold(slot.state === "busy" || (slot.state === "starting" && this.#queue.length > 0));
  }
}

function cancelled(req: PoolRequest<unknown>): ToolError {
  return new ToolError("TOOL_TIMEOUT", req.cancelMessage ?? "cancelled", { retryable: false });
}
