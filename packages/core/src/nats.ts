import { readFileSync } from "node:fs";
import { inboxPrefixOf } from "@baton/contracts";
import { connect, credsAuthenticator, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { credentialsUser } from "./auth.ts";

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
  if (logger) {
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect" || status.type === "reconnect") logger.warn({ nats: status.type }, `nats ${status.type}`);
        if (status.type === "error") logger.error({ nats: "error", err: status.error }, `nats error: ${status.error.message}`);
      }
    })();
  }
  return nc;
}
