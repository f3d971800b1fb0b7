import { readFileSync } from "node:fs";
import { BatonDriver, RawDriver } from "../lib/drivers.ts";
import { chainPlan } from "../lib/plans.ts";
import { codeAgent, startBatonStack, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";
import { startRawStack } from "../raw/stack.ts";
const tick = 100; // USER_HZ
function cpu(pid: number): number { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" "); return ((Number(f[11]) + Number(f[12])) * 1000) / tick; }
function kids(pid: number): number[] { try { return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; } }
const stack = await startBatonStack("t", [{ spec: SUPERVISOR }, { spec: codeAgent() }, { spec: SYNTHESIZER }]);
const d = await BatonDriver.connect(stack.url);
for (let i = 0; i < 50; i++) await d.runPlan(chainPlan(3));
const pids: [string, number][] = [["nats", stack.nats.server.process.pid!], ...stack.processes.map((p) => [p.label, p.child.pid!] as [string, number])];
for (const p of stack.processes) for (const k of kids(p.child.pid!)) pids.push([p.label + "-child", k]);
pids.push(["bench", process.pid]);
const before = pids.map(([, pid]) => cpu(pid));
const N = 300; const t = performance.now();
for (let i = 0; i < N; i++) await d.runPlan(chainPlan(3));
const wall = (performance.now() - t) / N;
console.log("baton wall ms/task", wall.toFixed(2));
pids.forEach(([n, pid], i) => console.log(n, ((cpu(pid) - before[i]!) / N).toFixed(2), "ms CPU/task"));
await d.close(); await stack.stop();
const raw = await startRawStack();
const rd = await RawDriver.connect(raw.nats.url);
for (let i = 0; i < 50; i++) await rd.run("chain3");
const rp: [string, number][] = [["nats", raw.nats.server.process.pid!], ...raw.processes.map((p) => [p.label, p.child.pid!] as [string, number]), ["bench", process.pid]];
const b2 = rp.map(([, pid]) => cpu(pid));
const t2 = performance.now();
for (let i = 0; i < N; i++) await rd.run("chain3");
console.log("raw wall ms/task", ((performance.now() - t2) / N).toFixed(2));
rp.forEach(([n, pid], i) => console.log(n, ((cpu(pid) - b2[i]!) / N).toFixed(2), "ms CPU/task"));
await rd.close(); await raw.stop();
