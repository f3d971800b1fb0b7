import { EXIT, type ExitCode } from "./exit-codes.ts";

/**
 * An expected failure: printed as its message (no stack trace) and turned into `exitCode`.
 * `details` are extra lines printed after the message (e.g. one per invalid field).
 */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: ExitCode;
  readonly details: readonly string[];

  constructor(message: string, exitCode: ExitCode = EXIT.failed, details: readonly string[] = [], options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
    this.details = details;
  }
}

/**
 * Turns an error from connecting to or talking with NATS into a {@link CliError} a person can
 * act on: connection refused / unreachable → "cannot reach NATS at <url>: start the stack with
 * `baton up`, or set NATS_URL"; JetStream disabled → how to enable it; a missing Baton stream →
 * the services have never run against this server. Any other error keeps its message.
 */
export function natsError(error: unknown, url: string): CliError {
  if (error instanceof CliError) return error;
  const text = errorText(error);
  if (/connection refused|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ETIMEDOUT|timeout|connection (closed|draining)/i.test(text)) {
    return new CliError(
      `cannot reach NATS at ${url}: start the stack with \`baton up\`, or set NATS_URL (or pass --nats <url>)`,
      EXIT.failed,
      [],
      {
        cause: error,
      },
    );
  }
  if (/jetstream not enabled|JetStream not enabled|503/i.test(text)) {
    return new CliError(
      `NATS at ${url} does not have JetStream enabled: start nats-server with -js (\`baton up\` does this)`,
      EXIT.failed,
      [],
      {
        cause: error,
      },
    );
  }
  if (/stream not found|no responders/i.test(text)) {
    return new CliError(
      `the Baton streams do not exist on NATS at ${url}: the services have never run against this server (start them with \`baton up\`)`,
      EXIT.failed,
      [],
      { cause: error },
    );
  }
  return new CliError(`NATS error (${url}): ${text}`, EXIT.failed, [], { cause: error });
}

/** The message of an error and of its causes, joined by ": ". */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : typeof current === "string" ? current : JSON.stringify(current);
    if (message && !parts.includes(message)) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
