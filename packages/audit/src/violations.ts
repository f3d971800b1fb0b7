import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import type { Logger } from "@baton/core";
import type { AuditTrail } from "./trail.ts";
import { auditId } from "./trail.ts";

/** A refusal nats-server wrote to its log: a publish or subscription outside a user's permissions, or a refused connection. */
export interface LoggedViolation {
  readonly kind: "publish" | "subscribe" | "connect";
  /** The user's public NKey (`U…`) or name, as the server logged it; absent for an anonymous connection. */
  readonly user?: string;
  /** The subject refused (publish and subscribe). */
  readonly subject?: string;
  /** The client's address and name as logged, e.g. `127.0.0.1:42710`, `v3.4.0:nats.js:test-client`. */
  readonly address?: string;
  readonly clientName?: string;
  /** The server's timestamp of the line, as logged (`2026/11/30 04:37:21.646979`, server-local time). */
  readonly loggedAt: string;
}

const LINE =
  /^\[\d+\] (\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d+) \[ERR\] (\S+) - \w+:\d+ - (?:"([^"]*)" - )?(Publish Violation|Subscription Violation|authentication error|Authorization Violation)(.*)$/;

/**
 * Parses one nats-server (2.9, 2.10) log line: a `Publish Violation`, `Subscription Violation`,
 * or a refused connection (`authentication error`, `Authorization Violation`), else undefined.
 */
export function parseViolation(line: string): LoggedViolation | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, loggedAt = "", address, clientName, what = "", rest = ""] = m;
  const user = /(?:Nkey|User) "([^"]+)"/.exec(rest)?.[1];
  const subject = /Subject "([^"]+)"/.exec(rest)?.[1];
  const kind = what === "Publish Violation" ? "publish" : what === "Subscription Violation" ? "subscribe" : "connect";
  return {
    kind,
    loggedAt,
    ...(user ? { user } : {}),
    ...(subject ? { subject } : {}),
    ...(address ? { address } : {}),
    ...(clientName ? { clientName } : {}),
  };
}

/** Options of {@link watchViolations}. */
export interface ViolationWatchOptions {
  /** The nats-server log file (its `log_file`). */
  readonly logFile: string;
  /** Where each violation is recorded (`permission_violation`); the operator's trail. */
  readonly trail: AuditTrail;
  /** User names by public NKey (`deploymentUsers` of @baton/core), asked again for a key it does not know. */
  readonly users?: () => ReadonlyMap<string, string>;
  readonly logger?: Logger;
  /** How often the file is read for new lines, ms. Default 500. */
  readonly pollMs?: number;
  /** Start at the file's beginning (default) or its end (`"end"`: only violations from now on). */
  readonly from?: "start" | "end";
}

/** A running watch. */
export interface ViolationWatch {
  /** Violations recorded so far. */
  readonly recorded: number;
  /** Reads what is left in the file once more, then stops. */
  stop(): Promise<void>;
}

/**
 * Records the permission violations nats-server logs as `permission_violation` audit entries:
 * reads `logFile` from where it left off every `pollMs` (a log file rotated or truncated is read
 * again from its start) and records each violation with the user's name (from `users`), its NKey,
 * the subject and the client. Each entry's id is derived from the log line, so a line read twice
 * (a restarted watch) is chained once within the duplicate window. NATS 2.9 publishes no event for
 * a permission violation; its log is the one place the server reports them.
 */
export function watchViolations(options: ViolationWatchOptions): ViolationWatch {
  let offset = options.from === "end" && existsSync(options.logFile) ? statSync(options.logFile).size : 0;
  let partial = "";
  let recorded = 0;
  let users = options.users?.() ?? new Map<string, string>();
  const readNew = () => {
    if (!existsSync(options.logFile)) return;
    const size = statSync(options.logFile).size;
    if (size < offset) offset = 0; // rotated or truncated
    if (size === offset) return;
    const fd = openSync(options.logFile, "r");
    try {
      const buffer = Buffer.alloc(size - offset);
      readSync(fd, buffer, 0, buffer.length, offset);
      offset = size;
      const lines = (partial + buffer.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const violation = parseViolation(line);
        if (!violation) continue;
        if (violation.user?.startsWith("U") && !users.has(violation.user) && options.users) users = options.users();
        const name = violation.user ? users.get(violation.user) : undefined;
        options.trail.record({
          id: auditId("permission_violation", line),
          kind: "permission_violation",
          details: {
            what: violation.kind,
            ...(name ? { user: name } : {}),
            ...(violation.user ? { nkey: violation.user } : {}),
            ...(violation.subject ? { subject: violation.subject } : {}),
            ...(violation.clientName ? { client: violation.clientName } : {}),
            ...(violation.address ? { address: violation.address } : {}),
            loggedAt: violation.loggedAt,
            source: "nats-server log",
          },
        });
        recorded++;
      }
    } finally {
      closeSync(fd);
    }
  };
  const tick = () => {
    try {
      readNew();
    } catch (error) {
      options.logger?.warn({ err: error, logFile: options.logFile }, "could not read the nats-server log for permission violations");
    }
  };
  const timer = setInterval(tick, options.pollMs ?? 500);
  timer.unref();
  return {
    get recorded() {
      return recorded;
    },
    async stop() {
      clearInterval(timer);
      tick();
      await options.trail.flush();
    },
  };
}
