import type { ConsumerSpec } from "@baton/contracts";
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { context, SpanKind, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { backoffDelayMs, sleep } from "./backoff.ts";
import { isRetryable, RetryLaterError } from "./errors.ts";
import { type ConnectionWatch, connectionOf, connectionWatch } from "./nats.ts";
import { extractTraceContext, failSpan } from "./tracing.ts";

const tracer = trace.getTracer("@baton/core");

/**
 * Handles one message. Resolve → the loop acks it; resolve `"term"` → `term()` (a failure the
 * handler has already reported: retrying cannot help). Throw a {@link RetryLaterError} → `nak`
 * with its delay; another retryable error → `nak` with exponential backoff; a non-retryable one →
 * `term()` (the handler must already have reported the failure on the bus: nothing is dropped
 * silently). `signal` aborts when shutdown's grace ends.
 */
export type MessageHandler = (msg: JsMsg, signal: AbortSignal) => Promise<void | "term">;

/** Options of {@link ConsumerLoop}. */
export interface ConsumerLoopOptions {
  readonly spec: ConsumerSpec;
  /** Messages handled at once by this process; never more are pulled than slots are free. Default 1. */
  readonly concurrency?: number;
  /** Low-cardinality subject template for span names, e.g. `work.research.{taskId}.{stepId}`. */
  readonly template: string;
  readonly logger: Logger;
  /** How long one pull request waits for a message, in ms. Default 5,000. */
  readonly pullExpiresMs?: number;
  /**
   * Messages one pull request of a slot may bring (handled one after another by that slot), for a
   * consumer whose handler is quick and that one process may hold work ahead of others — e.g. the
   * audit chainer: one pull per batch instead of one per message. Default 1 (a replica never holds
   * work another replica could run).
   */
  readonly pullBatch?: number;
  /**
   * The connection whose reconnects restart idle pulls at once (a pull request sent to a
   * nats-server that then died is never answered: without this, a slot would wait out its
   * `pullExpiresMs` and missed heartbeats first). Default: the JetStream client's own connection.
   */
  readonly nc?: NatsConnection;
}

/**
 * Pulls from a durable consumer with `concurrency` slots, each holding at most one message,
 * so a replica never holds work that another replica could run. While a handler runs, its
 * message's lease is extended with `working()` every ack_wait / 3. Each message is processed
 * inside a CONSUMER span `process <template>` whose parent is the trace context in its headers.
 *
 * Nothing escapes it as a rejection: a failed pull is logged and retried, a handler's error
 * becomes a `nak` or `term()`, and an ack, nak, term or heartbeat the connection refuses (closed
 * or draining) is logged — the server then redelivers the message after ack_wait. After a
 * reconnect, idle pulls are restarted on the new connection at once.
 */
export class ConsumerLoop {
  readonly #js: JetStreamClient;
  readonly #options: ConsumerLoopOptions;
  readonly #handler: MessageHandler;
  readonly #batches = new Set<ConsumerMessages>();
  /** Batches whose pull request is still waiting for a message. */
  readonly #idle = new Set<ConsumerMessages>();
  readonly #inFlight = new Set<JsMsg>();
  readonly #abort = new AbortController();
  #slots: Promise<void>[] = [];
  #stopping = false;
  #stopStatus: (() => void) | undefined;
  readonly #nc: NatsConnection | undefined;
  readonly #connection: ConnectionWatch | undefined;

  constructor(js: JetStreamClient, options: ConsumerLoopOptions, handler: MessageHandler) {
    this.#js = js;
    this.#options = options;
    this.#handler = handler;
    this.#nc = options.nc ?? connectionOf(js);
    this.#connection = this.#nc ? connectionWatch(this.#nc) : undefined;
  }

  /** Number of messages being handled right now. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Starts the pull slots. */
  start(): void {
    const n = Math.max(1, this.#options.concurrency ?? 1);
    this.#watchReconnects();
    this.#slots = Array.from({ length: n }, (_, i) => this.#runSlot(i));
  }

  /** On each reconnect, stops the pulls still waiting (sent to the old server) so their slots pull again. */
  #watchReconnects(): void {
    const nc = this.#nc;
    if (!nc) return;
    const status = nc.status();
    // nats.js returns a queued iterator that can be stopped; the type only promises an AsyncIterable.
    const stoppable = status as { stop?: () => void };
    this.#stopStatus = () => stoppable.stop?.();
    void (async () => {
      for await (const s of status) {
        if (this.#stopping) break;
        if (s.type !== "reconnect") continue;
        for (const batch of this.#idle) batch.stop();
      }
    })().catch((error: unknown) => this.#options.logger.warn({ err: error }, "consumer loop's connection status listener ended"));
  }

  /**
   * Stops pulling, waits up to `graceMs` for in-flight messages, then aborts their handlers and
   * hands them back with `nak()` so another replica takes them at once.
   */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#stopStatus?.();
    for (const batch of this.#batches) batch.stop();
    const done = Promise.all(this.#slots);
    const timedOut = await Promise.race([done.then(() => false), sleep(graceMs).then(() => true)]);
    if (timedOut) {
      this.#options.logger.warn({ inFlight: this.#inFlight.size }, "shutdown grace over: handing back in-flight messages");
      for (const m of this.#inFlight) this.#settle(m, "nak");
      this.#abort.abort();
      await Promise.race([done, sleep(1_000)]);
    }
  }

  async #runSlot(slot: number): Promise<void> {
    const { spec, logger } = this.#options;
    // Looked up once per slot (a consumer-info request), again only after an error.
    let consumer: Consumer | undefined;
    while (!this.#stopping) {
      let batch: ConsumerMessages | undefined;
      try {
        consumer ??= await this.#js.consumers.get(spec.stream, spec.durable);
        batch = await consumer.fetch({
          max_messages: Math.max(1, this.#options.pullBatch ?? 1),
          expires: this.#options.pullExpiresMs ?? 5_000,
        });
        this.#batches.add(batch);
        this.#idle.add(batch);
        if (this.#stopping) batch.stop();
        for await (const msg of batch) {
          this.#idle.delete(batch);
          if (this.#stopping) {
            this.#settle(msg, "nak"); // pulled after stop began: hand it back at once
            continue;
          }
          await this.#handle(msg);
        }
      } catch (error) {
        if (this.#stopping) break;
        consumer = undefined;
        logger.warn({ err: error, slot, consumer: spec.durable }, "pull failed; retrying");
        await sleep(500, this.#abort.signal);
      } finally {
        if (batch) {
          this.#batches.delete(batch);
          this.#idle.delete(batch);
        }
      }
    }
  }

  async #handle(msg: JsMsg): Promise<void> {
    const { spec, template, logger } = this.#options;
    this.#inFlight.add(msg);
    const parent = extractTraceContext(msg.headers);
    try {
      await context.with(parent, () =>
        tracer.startActiveSpan(`process ${template}`, { kind: SpanKind.CONSUMER }, async (span) => {
          span.setAttributes({
            "messaging.system": "nats",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": msg.subject,
            "messaging.destination.template": template,
            "messaging.consumer.group.name": spec.durable,
            "messaging.message.body.size": msg.data.byteLength,
            "messaging.nats.stream.sequence": msg.seq,
            "messaging.nats.delivery_count": msg.info.deliveryCount,
          });
          // Heartbeats at a third of ack_wait keep the lease of a long handler (an LLM call,
          // a slow tool), so ack_wait can stay short and a dead process's message returns soon.
          const heartbeat = setInterval(() => this.#settle(msg, "working"), Math.max(250, Math.floor(spec.ackWaitMs / 3)));
          try {
            const disposition = await this.#handler(msg, this.#abort.signal);
            clearInterval(heartbeat);
            this.#settle(msg, disposition === "term" ? "term" : "ack");
          } catch (error) {
            clearInterval(heartbeat);
            failSpan(span, error);
            if (isRetryable(error)) {
              const delay = error instanceof RetryLaterError ? error.delayMs : backoffDelayMs(msg.info.deliveryCount);
              logger.warn({ err: error, subject: msg.subject, delayMs: delay }, "handler failed; nak with delay");
              this.#settle(msg, "nak", delay);
            } else {
              logger.error({ err: error, subject: msg.subject }, "handler failed permanently; term");
              this.#settle(msg, "term");
            }
          } finally {
            span.end();
          }
        }),
      );
    } finally {
      this.#inFlight.delete(msg);
    }
  }

  /**
   * Acks, naks (after `delayMs`), terms or extends (`working`) a message. These are core
   * publishes, which the client drops while it is disconnected: an ack, nak or term is then sent
   * once the connection is back (within ack_wait; a `working()` simply waits for the next beat),
   * so a finished message is not redelivered for nothing. A connection that refuses them —
   * closed or draining — throws synchronously, which is logged here: the server redelivers the
   * message after ack_wait.
   */
  #settle(msg: JsMsg, how: "ack" | "nak" | "term" | "working", delayMs?: number): void {
    const connection = this.#connection;
    if (connection && !connection.connected) {
      if (how === "working") return;
      void connection.whenConnected(this.#options.spec.ackWaitMs).then((up) => {
        if (up) this.#settleNow(msg, how, delayMs);
        else this.#options.logger.warn({ subject: msg.subject, seq: msg.seq, op: how }, `not reconnected within ack_wait: ${how} not sent`);
      });
      return;
    }
    this.#settleNow(msg, how, delayMs);
  }

  #settleNow(msg: JsMsg, how: "ack" | "nak" | "term" | "working", delayMs?: number): void {
    try {
      if (how === "ack") msg.ack();
      else if (how === "nak") msg.nak(delayMs);
      else if (how === "term") msg.term();
      else msg.working();
    } catch (error) {
      this.#options.logger.warn({ err: error, subject: msg.subject, seq: msg.seq, op: how }, `could not ${how} a message`);
    }
  }
}
