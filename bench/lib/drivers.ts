import { subjects } from "@baton/contracts";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { RAW, type RawSubmission } from "../raw/protocol.ts";
import { type Histogram, newHistogram, recordMs } from "./histogram.ts";
import { layersFor, type PlanInput, planFor, type Shape } from "./plans.ts";

/** Submits tasks and measures each one's end-to-end latency, from just before the publish to its outcome. */
export interface Driver {
  readonly name: string;
  /** Runs one task of `shape`; resolves with its latency in ms. */
  run(shape: Shape): Promise<number>;
  /** When true, the driver may parse outcomes for details (after taking the latency). */
  detail: boolean;
  close(): Promise<void>;
}

/** What a Baton outcome told us besides its latency. */
export interface BatonRun {
  readonly latencyMs: number;
  readonly taskId: string;
  /** The parsed outcome (`tasks.completed.<taskId>`). */
  readonly outcome: { steps: { stepId: string; worker?: string; durationMs?: number; toolCalls: { durationMs: number }[] }[] };
}

interface Waiter {
  readonly resolve: (v: { at: number; data: Uint8Array }) => void;
  readonly reject: (e: Error) => void;
}

let runCounter = 0;
/** A taskId prefix unique to this bench process and call (taskIds are idempotency keys). */
export function uniquePrefix(label: string): string {
  return `${label}-${process.pid.toString(36)}${Date.now().toString(36)}${(runCounter++).toString(36)}`;
}

/**
 * A Baton client: JetStream publish on `tasks.submit`, outcome on `tasks.completed.<taskId>`
 * through one wildcard subscription opened before anything is submitted.
 */
export class BatonDriver implements Driver {
  readonly name = "baton";
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /** Tool-call durations (ms) reported in outcomes, when `detail` is on. */
  readonly toolMs: Histogram = newHistogram();
  detail = false;
  readonly #waiters = new Map<string, Waiter>();
  readonly #subs: Subscription[] = [];
  readonly #prefix: string;
  #seq = 0;

  private constructor(nc: NatsConnection, label: string) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.#prefix = uniquePrefix(label);
    const onOutcome = (failed: boolean) => (_err: unknown, msg: { subject: string; data: Uint8Array }) => {
      const at = performance.now();
      const taskId = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
      const w = this.#waiters.get(taskId);
      if (!w) return;
      this.#waiters.delete(taskId);
      if (failed) w.reject(new Error(`task ${taskId} failed: ${new TextDecoder().decode(msg.data).slice(0, 600)}`));
      else w.resolve({ at, data: msg.data });
    };
    this.#subs.push(nc.subscribe(subjects.completedAll, { callback: onOutcome(false) }));
    this.#subs.push(nc.subscribe(subjects.failedAll, { callback: onOutcome(true) }));
    this.#subs.push(
      nc.subscribe(subjects.rejected, {
        callback: (_err, msg) => {
          const body = msg.json<{ taskId: string | null }>();
          const w = body.taskId ? this.#waiters.get(body.taskId) : undefined;
          if (w && body.taskId) {
            this.#waiters.delete(body.taskId);
            w.reject(new Error(`submission rejected: ${msg.string().slice(0, 600)}`));
          }
        },
      }),
    );
  }

  static async connect(url: string, label = "b"): Promise<BatonDriver> {
    const nc = await connect({ servers: url, name: "bench-client" });
    const driver = new BatonDriver(nc, label);
    await nc.flush(); // the subscriptions are registered on the server before the first submit
    return driver;
  }

  nextTaskId(): string {
    return `${this.#prefix}-${++this.#seq}`;
  }

  async run(shape: Shape): Promise<number> {
    return (await this.runPlan(planFor(shape))).latencyMs;
  }

  /** Submits `plan` and waits for its outcome (rejects when the task fails or is rejected). */
  async runPlan(plan: PlanInput, options: { taskId?: string; timeoutMs?: number; parse?: boolean } = {}): Promise<BatonRun> {
    const taskId = options.taskId ?? this.nextTaskId();
    const outcome = this.expect(taskId, options.timeoutMs ?? 60_000);
    const started = performance.now();
    await this.js.publish(subjects.submit, JSON.stringify({ taskId, goal: "bench", plan }));
    const { at, data } = await outcome;
    const latencyMs = at - started;
    if (!options.parse && !this.detail) return { latencyMs, taskId, outcome: { steps: [] } };
    const parsed = JSON.parse(new TextDecoder().decode(data)) as BatonRun["outcome"];
    if (this.detail) for (const s of parsed.steps) for (const c of s.toolCalls) recordMs(this.toolMs, c.durationMs);
    return { latencyMs, taskId, outcome: parsed };
  }

  /** Registers interest in a task's outcome (call before submitting). */
  expect(taskId: string, timeoutMs: number): Promise<{ at: number; data: Uint8Array }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(taskId);
        reject(new Error(`no outcome for ${taskId} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(taskId, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.#subs) s.unsubscribe();
    await this.nc.close();
  }
}

/** The raw baseline's client: JetStream publish on `raw.submit`, outcome on `raw.done.<taskId>`. */
export class RawDriver implements Driver {
  readonly name = "raw";
  detail = false;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly #waiters = new Map<string, (at: number) => void>();
  readonly #sub: Subscription;
  readonly #prefix = uniquePrefix("r");
  #seq = 0;

  private constructor(nc: NatsConnection) {
    this.nc = nc;
    this.js = jetstream(nc);
    this.#sub = nc.subscribe(RAW.doneAll, {
      callback: (_err, msg) => {
        const at = performance.now();
        const taskId = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
        const w = this.#waiters.get(taskId);
        this.#waiters.delete(taskId);
        w?.(at);
      },
    });
  }

  static async connect(url: string): Promise<RawDriver> {
    const nc = await connect({ servers: url, name: "bench-client" });
    const driver = new RawDriver(nc);
    await nc.flush();
    return driver;
  }

  async run(shape: Shape): Promise<number> {
    const taskId = `${this.#prefix}-${++this.#seq}`;
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw task ${taskId}: no outcome within 60 s`)), 60_000);
      this.#waiters.set(taskId, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
    const submission: RawSubmission = { taskId, layers: layersFor(shape) };
    const started = performance.now();
    await this.js.publish(RAW.submit, JSON.stringify(submission));
    return (await done) - started;
  }

  async close(): Promise<void> {
    this.#sub.unsubscribe();
    await this.nc.close();
  }
}
