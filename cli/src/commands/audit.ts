import { type ChainAnchor, readAudit, type StoredAuditRecord, verifyAudit } from "@baton/audit";
import { AUDIT_STREAM, TaskId } from "@baton/contracts";
import { CliError } from "../cli-error.ts";
import type { CliConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { withOperatorConnection } from "../operator.ts";
import type { CommandContext } from "./context.ts";

/** Options shared by the audit commands. */
export interface AuditFlags {
  /** Read this stream instead of BATON_AUDIT (e.g. a copy restored from elsewhere). */
  readonly stream?: string;
}

/**
 * `baton audit <taskId>`: the task's audit records, oldest first, one line each — index, time,
 * kind, source/actor, step, tool, status; `{"kind":"audit_record","seq":…,"record":{…}}` lines
 * with --json.
 * @throws CliError (exit 2) for an invalid taskId; (exit 3) when the task has no records.
 */
export async function auditListCommand(ctx: CommandContext, taskId: string, flags: AuditFlags = {}): Promise<ExitCode> {
  if (!TaskId.safeParse(taskId).success) throw new CliError(`invalid taskId ${JSON.stringify(taskId)}`, EXIT.invalid);
  return withOperatorConnection(ctx, async (conn) => {
    const stream = await streamName(conn, flags);
    const records = await readAudit(conn.js, { taskId, stream });
    const { output } = ctx;
    if (records.length === 0) throw new CliError(`no audit records for task ${taskId} in ${stream}`, EXIT.notFound);
    for (const stored of records) {
      if (output.json) {
        output.jsonLine({
          kind: "audit_record",
          seq: stored.seq,
          storedAt: stored.storedAt.toISOString(),
          ...(stored.record ? { record: stored.record } : { problem: stored.problem }),
        });
      } else output.out(recordLine(stored));
    }
    if (!output.json) output.err(`${records.length} audit record(s) for task ${taskId} in ${stream}.`);
    return EXIT.ok;
  });
}

/**
 * `baton audit verify`: recomputes every record's hash and checks every link of the chain (and the
 * `--anchor` hashes). Exit 0 when the chain is intact, 1 at the first broken link (printed with its
 * index, stream sequence and reason); `{"kind":"audit_verify",…}` with --json.
 * @throws CliError (exit 2) for a malformed --anchor.
 */
export async function auditVerifyCommand(ctx: CommandContext, flags: AuditFlags & { anchor?: readonly string[] } = {}): Promise<ExitCode> {
  const anchors = (flags.anchor ?? []).map(parseAnchor);
  return withOperatorConnection(ctx, async (conn) => {
    const stream = await streamName(conn, flags);
    const result = await verifyAudit(conn.js, { stream, anchors });
    const { output } = ctx;
    if (output.json) {
      output.jsonLine({ kind: "audit_verify", stream, ...result });
      return result.ok ? EXIT.ok : EXIT.failed;
    }
    const broken = result.firstBrokenAt;
    if (broken) {
      const where = broken.seq > 0 ? `index ${broken.index} (stream seq ${broken.seq})` : `index ${broken.index}`;
      output.out(`${stream}: chain BROKEN at ${where}: ${broken.reason}`);
      output.out(`  ${broken.message}`);
      output.out(`  ${result.checked} record(s) checked`);
      return EXIT.failed;
    }
    if (result.checked === 0) {
      output.out(`${stream} is empty: nothing to verify`);
      return EXIT.ok;
    }
    output.out(`${stream}: chain ok, ${result.checked} record(s) verified (index ${result.firstIndex}..${result.lastIndex})`);
    if (result.startsAfterExpiry) output.out(`  records before index ${result.firstIndex} have expired (retention)`);
    output.out(`  head: index ${result.lastIndex} hash ${result.headHash}`);
    output.out(`  keep the head elsewhere and check it later with: baton audit verify --anchor ${result.lastIndex}:${result.headHash}`);
    return EXIT.ok;
  });
}

/** `<index>:<sha256 hex>` → an anchor. @throws CliError (exit 2) otherwise. */
function parseAnchor(text: string): ChainAnchor {
  const match = /^(\d+):([0-9a-fA-F]{64})$/.exec(text.trim());
  if (!match) throw new CliError(`invalid --anchor ${JSON.stringify(text)}: expected <index>:<sha256 hex>`, EXIT.invalid);
  return { index: Number(match[1]), hash: (match[2] ?? "").toLowerCase() };
}

/** The stream to read (`--stream`, default BATON_AUDIT). @throws CliError (exit 1) when it does not exist. */
async function streamName(conn: CliConnection, flags: AuditFlags): Promise<string> {
  const stream = flags.stream ?? AUDIT_STREAM.name;
  try {
    await conn.jsm.streams.info(stream);
  } catch (error) {
    if (/stream not found/i.test(String(error))) {
      throw new CliError(
        stream === AUDIT_STREAM.name
          ? `${stream} does not exist on NATS at ${conn.url}: no Baton service has run against this server`
          : `no stream ${stream} on NATS at ${conn.url}`,
        EXIT.failed,
      );
    }
    throw error;
  }
  return stream;
}

function recordLine(stored: StoredAuditRecord): string {
  const r = stored.record;
  if (!r) return `seq ${stored.seq}  ${stored.storedAt.toISOString()}  (not a valid audit record: ${stored.problem})`;
  const d = r.details;
  const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
  const status = [text(d.status), text(d.code)].filter(Boolean).join(" ");
  return [
    `#${r.index}`,
    r.at,
    r.kind,
    `${r.source}/${r.actor}`,
    r.stepId ? `step ${r.stepId}` : "-",
    text(d.tool) ? `tool ${text(d.tool)}` : "-",
    status || "-",
  ].join("  ");
}
