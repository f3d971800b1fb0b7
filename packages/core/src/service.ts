import { randomUUID } from "node:crypto";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { sleep } from "./backoff.ts";
import type { BaseServiceEnv } from "./config.ts";
import { BatonError } from "./errors.ts";
import { createLogger } from "./logger.ts";
import { connectNats, isBrokerUnavailable } from "./nats.ts";
import { awaitProvisioning, provisionAll } from "./provision.ts";
import { initTracing, type Tracing } from "./tracing.ts";

/** What a running service is given by {@link startService}. */
export interface ServiceContext {
  readonly name: string;
  /** Unique per process: `<name>-<8 hex>` unless SERVICE_INSTANCE_ID is set. */
  readonly instanceId: string;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly logger: Logger;
  readonly tracing: Tracing;
  /** Registers a step of graceful shutdown; steps run in reverse order of registration. */
  onShutdown(step: (graceMs: number) => Promise<void>): void;
  /** Runs the shutdown steps, drains the connection and flushes traces. Idempotent. */
  shutdown(reason: string): Promise<void>;
}

/** Options of {@link startService}. */
export interface StartServiceOptions {
  /** How long the first connection is retried, in ms; default 30,000 (services may start before the server). */
  readonly connectTimeoutMs?: number;
  /**
   * Stop gracefully on SIGTERM / SIGINT and exit 0; default true. Also installs the process's
   * last-resort handler of unhandled rejections (see {@link startService}).
   */
  readonly handleSignals?: boolean;
  /**
   * `create`: create or update every stream, control-plane consumer and bucket (the supervisor,
   * whose credentials allow it); `await` (default): wait until they exist, logging while waiting —
   * other roles may only read stream info.
   */
  readonly provision?: "create" | "await";
}

/**
 * Starts the common part of a service: tracing, logging, the NATS connection (with the
 * credentials of NATS_CREDS when set; retried for `connectTimeoutMs`), stream, consumer and KV
 * provisioning or waiting for it, and SIGTERM/SIGINT handlers that shut down gracefully and exit 0.
 *
 * With `handleSignals`, a last-resort `unhandledRejection` handler too: every rejection should
 * be handled where it happens (a bug otherwise), so one that escapes is logged at error level as
 * `unhandled rejection`; a transient one (a broker outage or timeout — {@link isBrokerUnavailable}
 * — or a retryable BatonError) leaves the process running, since its state lives in JetStream and the work it
 * was part of is redelivered; any other shuts the service down gracefully and exits 1, as Node
 * would have — unless another listener (a test runner) handles rejections for the process.
 * @throws the last connection error when NATS stays unreachable.
 */
export async function startService(name: string, env: BaseServiceEnv, options: StartServiceOptions = {}): Promise<ServiceContext> {
  const instanceId = env.SERVICE_INSTANCE_ID ?? `${name}-${randomUUID().slice(0, 8)}`;
  const logger = createLogger({ service: name, level: env.LOG_LEVEL, pretty: env.LOG_PRETTY }).child({ instance: instanceId });
  const tracing = initTracing({
    serviceName: env.OTEL_SERVICE_NAME ?? name,
    serviceInstanceId: instanceId,
    endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT,
    logger,
  });
  const nc = await connectWithRetry(env.NATS_URL, instanceId, logger, options.connectTimeoutMs ?? 30_000, env.NATS_CREDS);
  if (options.provision === "create") await provisionAll(nc);
  else await awaitProvisioning(nc, logger);
  const js = jetstream(nc);
  const steps: ((graceMs: number) => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const ctx: ServiceContext = {
    name,
    instanceId,
    nc,
    js,
    logger,
    tracing,
    onShutdown: (step) => steps.push(step),
    shutdown(reason) {
      stopping ??= (async () => {
        logger.info({ reason }, "shutting down");
        for (const step of [...steps].reverse()) {
          try {
            await step(env.SHUTDOWN_GRACE_MS);
          } catch (error) {
            logger.error({ err: error }, "shutdown step failed");
          }
        }
        try {
          await nc.drain();
        } catch (error) {
          logger.warn({ err: error }, "drain failed");
        }
        await tracing.shutdown();
        logger.info("stopped");
      })();
      return stopping;
    },
  };
  if (options.handleSignals ?? true) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        void ctx.shutdown(signal).then(() => process.exit(0));
      });
    }
    watchRejections(ctx);
    ctx.onShutdown(async () => void rejectionWatchers.delete(ctx));
  }
  logger.info({ nats: env.NATS_URL, tracing: tracing.enabled }, "started");
  return ctx;
}

async function connectWithRetry(
  url: string,
  name: string,
  logger: Logger,
  timeoutMs: number,
  credsFile: string | undefined,
): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connectNats(url, name, logger, { credsFile });
    } catch (error) {
      // Bad credentials do not get better by retrying.
      if (Date.now() > deadline || isAuthError(error)) throw error;
      logger.warn({ err: error, nats: url }, "NATS not reachable yet; retrying");
      await sleep(500);
    }
  }
}

/**
 * Entry-point helper for a service's `main.ts`: runs `start`, and on a start-up failure
 * (bad configuration, unreachable NATS) prints the error and exits with code 1.
 */
export function runMain(start: () => Promise<unknown>): void {
  start().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  });
}

/** The services of this process that the last-resort rejection handler reports to (first = logger used). */
const rejectionWatchers = new Set<ServiceContext>();
let rejectionHandlerInstalled = false;

/** Installs (once per process) the `unhandledRejection` handler described in {@link startService}. */
function watchRejections(ctx: ServiceContext): void {
  rejectionWatchers.add(ctx);
  if (rejectionHandlerInstalled) return;
  rejectionHandlerInstalled = true;
  const handler = (reason: unknown) => {
    const service = rejectionWatchers.values().next().value;
    const transient = isBrokerUnavailable(reason) || (reason instanceof BatonError && reason.retryable);
    const log = service?.logger;
    if (transient) {
      log?.error({ err: reason, unhandled: true, transient }, "unhandled rejection");
      return;
    }
    log?.fatal({ err: reason, unhandled: true, transient }, "unhandled rejection");
    // Another listener (e.g. a test runner) owns the process's unhandled rejections.
    if (process.listenerCount("unhandledRejection") > 1) return;
    if (!service) {
      process.stderr.write(`unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
      process.exit(1);
    }
    void service.shutdown("unhandled rejection").finally(() => process.exit(1));
  };
  process.on("unhandledRejection", handler);
}

function isAuthError(error: unknown): boolean {
  return error instanceof Error && /authori[sz]ation|authentication|ENOENT|credentials/i.test(`${error.name} ${error.message}`);
}
