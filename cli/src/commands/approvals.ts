import { ApprovalDecision, ApprovalId, ApprovalRecord, KV_BUCKETS, subjects } from "@baton/contracts";
import { openKv, publishMessage } from "@baton/core";
import { CliError } from "../cli-error.ts";
import { type CliConnection, openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { formatDuration, oneLine } from "../format.ts";
import { operatorName } from "../operator.ts";
import type { CommandContext } from "./context.ts";

/** How long `approve`/`deny` wait for the supervisor to apply the decision, ms. */
const DECISION_WAIT_MS = 15_000;

async function withOperator<T>(ctx: CommandContext, use: (conn: CliConnection) => Promise<T>): Promise<T> {
  const conn = await openConnection(ctx.natsUrl, ctx.credsFor("operator"));
  try {
    return await use(conn);
  } finally {
    await conn.close();
  }
}

async function readRecords(conn: CliConnection): Promise<ApprovalRecord[]> {
  const kv = await openKv(conn.nc, KV_BUCKETS.approvals);
  const records: ApprovalRecord[] = [];
  for await (const key of await kv.keys()) {
    const entry = await kv.get(key);
    if (!entry || entry.operation !== "PUT") continue;
    const parsed = ApprovalRecord.safeParse(entry.json());
    if (parsed.success) records.push(parsed.data);
  }
  return records.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt));
}

async function readRecord(conn: CliConnection, approvalId: string): Promise<ApprovalRecord> {
  if (!ApprovalId.safeParse(approvalId).success)
    throw new CliError(`"${approvalId}" is not an approval id (a- and 32 hex digits)`, EXIT.invalid);
  const kv = await openKv(conn.nc, KV_BUCKETS.approvals);
  const entry = await kv.get(approvalId);
  const parsed = entry?.operation === "PUT" ? ApprovalRecord.safeParse(entry.json()) : undefined;
  if (!parsed?.success) throw new CliError(`no approval ${approvalId} (see baton approvals list --all)`, EXIT.notFound);
  return parsed.data;
}

function listLine(r: ApprovalRecord, nowMs: number): string {
  const tools = [...new Set(r.calls.map((c) => `${c.tool}[${c.riskTier}]`))].join(", ");
  const when =
    r.status === "pending"
      ? `expires in ${formatDuration(Date.parse(r.expiresAt) - nowMs)}`
      : `${r.status}${r.decision ? ` by ${r.decision.approver}` : ""}`;
  return `${r.approvalId}  ${r.taskId} / ${r.stepId} (${r.agent})  ${tools}  ${when}`;
}

/**
 * `baton approvals list [--all]`: one line per open approval (with --all, every approval kept in
 * `baton_approvals`, 30 days): id, task / step (agent), tools with risk tiers, expiry or outcome.
 * @returns 0.
 */
export async function approvalsListCommand(ctx: CommandContext, flags: { all?: boolean }): Promise<ExitCode> {
  return withOperator(ctx, async (conn) => {
    const records = (await readRecords(conn)).filter((r) => flags.all || r.status === "pending");
    const { output } = ctx;
    const now = Date.now();
    for (const r of records) {
      if (output.json) output.jsonLine({ kind: "approval", ...r });
      else output.out(listLine(r, now));
    }
    if (!output.json) output.err(`${records.length} ${flags.all ? "approval(s)" : "open approval(s)"}.`);
    return EXIT.ok;
  });
}

/**
 * `baton approvals show <id>`: what a decision would allow — the task's goal, the step's
 * instruction, each call with its arguments (secrets redacted), risk tier and argument
 * provenance (text copied from data the agent did not write), why it waits, and its status.
 * @returns 0, or 3 when there is no such approval.
 */
export async function approvalsShowCommand(ctx: CommandContext, approvalId: string): Promise<ExitCode> {
  return withOperator(ctx, async (conn) => {
    const r = await readRecord(conn, approvalId);
    const { output } = ctx;
    if (output.json) {
      output.jsonLine({ kind: "approval", ...r });
      return EXIT.ok;
    }
    output.out(
      `approval ${r.approvalId}: ${r.status}${r.decision ? ` (${r.decision.decision} by ${r.decision.approver} at ${r.decision.decidedAt}${r.decision.comment ? `: ${r.decision.comment}` : ""})` : ""}`,
    );
    output.out(`  task      ${r.taskId}: ${oneLine(r.goal, 200)}`);
    output.out(`  step      ${r.stepId} (agent ${r.agent}): ${oneLine(r.instruction, 200)}`);
    output.out(`  why       ${r.reason}`);
    output.out(`  requested ${r.requestedAt}, expires ${r.expiresAt} (no decision by then = denied)`);
    for (const [i, c] of r.calls.entries()) {
      output.out(`  call ${i + 1}: ${c.tool} [${c.riskTier}]  args sha256 ${c.argsHash}`);
      for (const line of JSON.stringify(c.args, null, 2).split("\n")) output.out(`    ${line}`);
      for (const p of c.provenance ?? []) {
        output.out(`    ! ${p.path} copies text from ${p.source}: "${oneLine(p.excerpt, 120)}"`);
      }
    }
    if (r.status === "pending")
      output.out(`decide: baton approvals approve ${r.approvalId} | baton approvals deny ${r.approvalId} [--comment <text>]`);
    return EXIT.ok;
  });
}

/**
 * `baton approvals approve|deny <id> [--comment] [--as]`: publishes the decision on
 * `approvals.decisions.<id>` (operator credentials), then waits up to 15 s for the supervisor to
 * apply it and prints what became of the approval. The approver is `--as`, else BATON_APPROVER,
 * else `<os user>@<host>`; it is recorded with the decision and in the audit ledger.
 * @returns 0 when the decision was applied; 1 when the approval was closed already (decided,
 *   expired, or its task ended) or no supervisor applied it in time; 3 for an unknown approval.
 */
export async function approvalsDecideCommand(
  ctx: CommandContext,
  decision: "approve" | "deny",
  approvalId: string,
  flags: { comment?: string; as?: string },
): Promise<ExitCode> {
  return withOperator(ctx, async (conn) => {
    const before = await readRecord(conn, approvalId);
    const { output } = ctx;
    if (before.status !== "pending") {
      throw new CliError(
        `approval ${approvalId} is ${before.status} already${before.decision ? ` (${before.decision.decision} by ${before.decision.approver})` : ""}`,
        EXIT.failed,
      );
    }
    const approver = flags.as?.trim() || operatorName();
    const kv = await openKv(conn.nc, KV_BUCKETS.approvals);
    const watch = await kv.watch({ key: approvalId });
    try {
      await publishMessage(
        conn.js,
        subjects.approvalDecision(approvalId),
        ApprovalDecision,
        {
          schemaVersion: 1,
          approvalId,
          decision,
          approver,
          ...(flags.comment ? { comment: flags.comment } : {}),
          decidedAt: new Date().toISOString(),
        },
        { template: "approvals.decisions.{approvalId}" },
      );
      const closed = await Promise.race([
        (async () => {
          for await (const entry of watch) {
            if (entry.operation !== "PUT") continue;
            const parsed = ApprovalRecord.safeParse(entry.json());
            if (parsed.success && parsed.data.status !== "pending") return parsed.data;
          }
          return undefined;
        })(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), DECISION_WAIT_MS).unref()),
      ]);
      if (!closed) {
        throw new CliError(
          `the decision is published, but no supervisor applied it within ${DECISION_WAIT_MS / 1_000} s; see baton approvals show ${approvalId}`,
          EXIT.failed,
        );
      }
      const mine = closed.decision?.approver === approver && closed.decision.decision === decision;
      if (output.json) output.jsonLine({ kind: "approval", ...closed, applied: mine });
      else
        output.out(
          mine
            ? `${closed.status}: step ${closed.stepId} of task ${closed.taskId} ${decision === "approve" ? "goes on" : "gets the denial"} (recorded as ${approver})`
            : `approval ${approvalId} was closed by another decision first: ${closed.status}${closed.decision ? ` by ${closed.decision.approver}` : ""}`,
        );
      return mine ? EXIT.ok : EXIT.failed;
    } finally {
      watch.stop();
    }
  });
}
