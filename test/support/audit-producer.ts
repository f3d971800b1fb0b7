// A producer of audit entries in its own process, for the audit ledger tests:
//   node test/support/audit-producer.ts <natsUrl> <source> <producer> <count> [taskId]
// publishes <count> entries (details {producer, n}) as fast as AuditTrail.record() goes, waits
// for their acks, prints {"ids":[…]} on stdout and exits.
import { AuditTrail } from "@baton/audit";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const [url, source, producer, countText, taskId] = process.argv.slice(2);
if (!url || !source || !producer || !countText) throw new Error("usage: audit-producer.ts <natsUrl> <source> <producer> <count> [taskId]");
const nc = await connect({ servers: url });
const trail = new AuditTrail(jetstream(nc), { source, actor: producer });
const ids: string[] = [];
for (let n = 0; n < Number(countText); n++) {
  ids.push(trail.record({ kind: "tool_call", ...(taskId ? { taskId } : {}), details: { producer, n } }));
}
await trail.flush(30_000);
await nc.drain();
process.stdout.write(`${JSON.stringify({ ids })}\n`);
