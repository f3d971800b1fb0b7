import { connectNats, startLocalNatsServer, freePort, provisionAll } from "@baton/core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const p = await freePort();
try { await connectNats(`nats://127.0.0.1:${p}`, "x"); } catch (e) { const err = e as any; console.log("refused:", err?.name, err?.code, err?.message, String(err?.cause)); }
const srv = await startLocalNatsServer({ storeDir: mkdtempSync(join(tmpdir(), "exp-")) });
const nc = await connectNats(srv.url, "x");
const js = jetstream(nc); const jsm = await jetstreamManager(nc);
try { await js.consumers.get("BATON_EVENTS", { filter_subjects: "tasks.events.a" }); } catch (e) { console.log("no stream:", (e as any).name, (e as any).code, (e as Error).message); }
try { await new Kvm(nc).open("baton_tasks"); console.log("kv open ok w/o bucket"); } catch (e) { console.log("kv open:", (e as Error).message); }
await provisionAll(nc);
const kv = await new Kvm(nc).open("baton_tasks"); console.log("kv get missing:", await kv.get("nope"));
console.log("getMessage none:", await jsm.streams.getMessage("BATON_OUTCOMES", { last_by_subj: "tasks.completed.a" }));
await js.publish("tasks.events.a", "one"); await js.publish("tasks.events.b", "other"); await js.publish("tasks.events.a", "two");
const c = await js.consumers.get("BATON_EVENTS", { filter_subjects: "tasks.events.a" });
console.log("consumer info filter:", (await c.info(true)).config.filter_subject, (await c.info(true)).config.filter_subjects);
const it = await c.consume();
setTimeout(() => js.publish("tasks.events.a", "three"), 300);
setTimeout(() => it.stop(), 800);
for await (const m of it) console.log("got", m.subject, m.string(), m.seq);
console.log("loop ended");
await nc.close(); await srv.stop();
