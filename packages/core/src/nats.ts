import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

export type { NatsConnection } from "@nats-io/transport-node";

/**
 * Connects to NATS and reconnects forever (every 500 ms) so a server restart never takes a
 * service down. Connection status changes are logged.
 * @param url comma-separated server URLs.
 * @throws when the first connection attempt fails (the caller decides whether to retry).
 */
export async function connectNats(url: string, name: string, logger?: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(",").map((s) => s.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // nats.js otherwise builds an Error (a stack capture) per request to give timeouts an async
    // trace; the benchmark measured that as the largest single CPU cost of a step.
    noAsyncTraces: true,
  });
  if (logger) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type }, `nats ${status.type}`);
      }
    })();
  }
  return nc;
}
