import { connectNats, type NatsConnection } from "@baton/core";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { natsError } from "./cli-error.ts";

/** An open NATS connection with its JetStream client and manager. */
export interface CliConnection {
  readonly url: string;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** Closes the connection (idempotent, never throws). */
  close(): Promise<void>;
}

/**
 * Connects to NATS at `url` (comma-separated server URLs), with the credentials in `credsFile`
 * when given, and checks that JetStream answers.
 * @throws CliError (exit 1) with a clear message when the server is unreachable, refuses the
 *   credentials (or their absence), or has no JetStream.
 */
export async function openConnection(url: string, credsFile?: string): Promise<CliConnection> {
  let nc: NatsConnection;
  try {
    nc = await connectNats(url, "baton-cli", undefined, { credsFile });
  } catch (error) {
    throw natsError(error, url);
  }
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    let closed = false;
    return {
      url,
      nc,
      js,
      jsm,
      async close() {
        if (closed) return;
        closed = true;
        await nc.close().catch(() => undefined);
      },
    };
  } catch (error) {
    await nc.close().catch(() => undefined);
    throw natsError(error, url);
  }
}

/**
 * Opens a connection to `url` (with `credsFile`), runs `fn` on it, turns NATS errors into
 * CliErrors (exit 1) and always closes the connection.
 * @returns what `fn` returns. @throws CliError; whatever else `fn` throws.
 */
export async function withConnection<T>(url: string, credsFile: string | undefined, fn: (conn: CliConnection) => Promise<T>): Promise<T> {
  const conn = await openConnection(url, credsFile);
  try {
    return await fn(conn);
  } catch (error) {
    throw natsError(error, conn.url);
  } finally {
    await conn.close();
  }
}
