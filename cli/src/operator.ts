import { hostname, userInfo } from "node:os";
import { AuditTrail } from "@baton/audit";
import type { CommandContext } from "./commands/context.ts";
import { type CliConnection, withConnection } from "./connection.ts";
import type { ExitCode } from "./exit-codes.ts";

/**
 * Who the person at this CLI says they are: BATON_APPROVER, else `<os user>@<host>`. Recorded
 * as the actor of their audit entries and as the approver of their decisions. The broker
 * enforces the operator credentials, not this name.
 */
export function operatorName(): string {
  const fromEnv = process.env["BATON_APPROVER"]?.trim();
  if (fromEnv) return fromEnv;
  return `${userInfo().username}@${hostname()}`;
}

/** The audit trail of an operator's actions (`audit.in.operator`), as {@link operatorName}. */
export function operatorTrail(conn: CliConnection): AuditTrail {
  return new AuditTrail(conn.js, { source: "operator", actor: operatorName() });
}

/** Runs an operator command's `fn` on a connection with the operator's credentials ({@link withConnection}). */
export function withOperatorConnection(ctx: CommandContext, fn: (conn: CliConnection) => Promise<ExitCode>): Promise<ExitCode> {
  return withConnection(ctx.natsUrl, ctx.credsFor("operator"), fn);
}
