/**
 * `npm run bench:memory` — does a hostile fuzz leave memory behind? Starts a private nats-server
 * and the five services (supervisor, synthesizer, code, data and research agents; LOG_LEVEL=warn,
 * no LLM), and reads each service's resident set (VmRSS in /proc/<pid>/status, MiB; a service's
 * child processes — the code agent's evaluator — in a row of their own):
 *
 * 1. at start, after a warm-up (a small hostile corpus and a few valid tasks) and once the
 *    processes are quiet;
 * 2. after a fuzz of `--submissions` hostile submissions (default 10,000) from
 *    test/support/hostile-submissions.ts, published at `--rate` per second, every one answered;
 * 3. after `--tasks` valid tasks (default 1,000; 16 in flight);
 * 4. after `--settle` seconds of nothing (default 30; no GC can be asked for from outside).
 *
 * Prints a table (start → after fuzz → after tasks → settled, last ÷ start, and the peak
 * VmHWM). It asserts nothing. With `--heap-snapshots <dir>` the services run with
 * `--heapsnapshot-signal=SIGUSR2`, write a heap snapshot at start and when settled (a snapshot
 * begins with a full GC, so one more reading follows), and the bench prints what grew between
 * the two snapshots, by constructor (for finding what is retained).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { natsServerAvailable } from "@baton/core";
import { formatReport, generateHostileCorpus, problemOf, runHostileCorpus, summarize } from "../test/support/hostile-submissions.ts";
import { BatonDriver } from "./lib/drivers.ts";
import type { PlanInput } from "./lib/plans.ts";
import { chainPlan } from "./lib/plans.ts";
import { childrenOf, foreignLoad, loadSnapshot } from "./lib/procfs.ts";
import {
  codeAgent,
  type NodeProcess,
  type ServiceSpec,
  SUPERVISOR,
  SYNTHESIZER,
  settle,
  sleep,
  startBatonStack,
  WORKER_CONCURRENCY,
} from "./lib/stack.ts";

const USAGE = `usage: npm run bench:memory -- [--submissions <n>] [--tasks <n>] [--settle <s>] [--rate <n>] [--seed <n>] [--heap-snapshots <dir>]

  --submissions <n>      hostile submissions in the fuzz (default 10000)
  --tasks <n>            valid tasks after the fuzz (default 1000)
  --settle <s>           seconds to wait before the last reading (default 30)
  --rate <n>             hostile submissions per second (default 50)
  --seed <n>             corpus seed (default 9)
  --heap-snapshots <dir> heap snapshots of every service at start and when settled, and what grew
`;

const { values } = parseArgs({
  options: {
    submissions: { type: "string", default: "10000" },
    tasks: { type: "string", default: "1000" },
    settle: { type: "string", default: "30" },
    rate: { type: "string", default: "50" },
    seed: { type: "string", default: "9" },
    "heap-snapshots": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const SUBMISSIONS = Number(values.submissions);
const TASKS = Number(values.tasks);
const SETTLE_S = Number(values.settle);
const RATE = Number(values.rate);
const SEED = Number(values.seed);
const SNAPSHOT_DIR = values["heap-snapshots"] ? resolve(values["heap-snapshots"]) : undefined;
for (const [name, v] of [
  ["submissions", SUBMISSIONS],
  ["tasks", TASKS],
  ["settle", SETTLE_S],
  ["rate", RATE],
  ["seed", SEED],
] as const) {
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`--${name} must be a non-negative number\n${USAGE}`);
    process.exit(2);
  }
}
if (!natsServerAvailable()) {
  process.stderr.write("nats-server is not on PATH (Debian/Ubuntu: sudo apt-get install nats-server)\n");
  process.exit(1);
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** A worker agent service of `services/<name>` (the data and research agents; the code agent has its own spec). */
function workerAgent(name: "data-agent" | "research-agent"): ServiceSpec {
  return {
    label: name,
    entry: `services/${name}/src/main.ts`,
    env: { WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) },
    pulls: [{ stream: "BATON_WORK", durable: name, waiting: WORKER_CONCURRENCY }],
  };
}

/** One line of /proc/<pid>/status in KiB (`VmRSS`, `VmHWM`, …); NaN when the process is gone. */
function statusKiB(pid: number | undefined, field: string): number {
  if (pid === undefined) return Number.NaN;
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.split(/\s+/)[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** The processes measured: every service, its child processes (summed), and nats-server; by row label. */
type Probe = () => Map<string, { rssMiB: number; hwmMiB: number }>;

function memoryProbe(services: readonly NodeProcess[], natsPid: number | undefined): Probe {
  return () => {
    const out = new Map<string, { rssMiB: number; hwmMiB: number }>();
    const add = (label: string, pids: number[]) => {
      if (pids.length === 0) return;
      const rss = pids.reduce((s, p) => s + statusKiB(p, "VmRSS"), 0) / 1024;
      const hwm = pids.reduce((s, p) => s + statusKiB(p, "VmHWM"), 0) / 1024;
      out.set(label, { rssMiB: rss, hwmMiB: hwm });
    };
    for (const s of services) {
      const role = s.label.replace(/-\d+$/, "");
      const pid = s.child.pid;
      if (pid === undefined) continue;
      add(role, [pid]);
      add(`${role} (child processes)`, childrenOf(pid));
    }
    add("nats-server", natsPid === undefined ? [] : [natsPid]);
    return out;
  };
}

/** Valid plans of the task run: mostly 3-step code chains, some data and research steps. */
function validPlan(i: number): PlanInput {
  if (i % 20 === 7) {
    return {
      steps: [
        {
          id: "q",
          agent: "data",
          instruction: "count",
          toolCalls: [{ tool: "sql_query", args: { sql: "SELECT weather, count(*) AS n FROM seattle_weather GROUP BY weather" } }],
        },
      ],
    };
  }
  if (i % 20 === 13) {
    return {
      steps: [
        {
          id: "s",
          agent: "research",
          instruction: "search",
          toolCalls: [{ tool: "search_documents", args: { query: "readline createInterface", limit: 3 } }],
        },
        {
          id: "r",
          agent: "research",
          instruction: "read",
          dependsOn: ["s"],
          toolCalls: [{ tool: "read_document", args: { id: { $fromStep: "s", path: "/hits/0/id" }, maxBytes: 1_000 } }],
        },
      ],
    };
  }
  return chainPlan(3);
}

/** Runs `count` valid tasks, `concurrency` at a time; returns how many completed and failed. */
async function runValidTasks(
  driver: BatonDriver,
  count: number,
  concurrency: number,
): Promise<{ completed: number; failed: number; errors: string[] }> {
  let next = 0;
  let completed = 0;
  let failed = 0;
  const errors: string[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        try {
          await driver.runPlan(validPlan(i), { timeoutMs: 120_000 });
          completed++;
        } catch (error) {
          failed++;
          if (errors.length < 5) errors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
        }
      }
    }),
  );
  return { completed, failed, errors };
}

// -- heap snapshots ------------------------------------------------------------------------------

/** Sends SIGUSR2 (`--heapsnapshot-signal`) and waits until the process's new snapshot file is complete; returns its path. */
async function takeSnapshot(pid: number, dir: string): Promise<string | undefined> {
  const mine = () => readdirSync(dir).filter((f) => f.endsWith(".heapsnapshot") && f.includes(`.${pid}.`));
  const before = new Set(mine());
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + 180_000;
  let file: string | undefined;
  let size = -1;
  while (Date.now() < deadline) {
    await sleep(500);
    file ??= mine().find((f) => !before.has(f));
    if (!file) continue;
    const now = statSync(`${dir}/${file}`).size;
    if (now > 0 && now === size) return `${dir}/${file}`;
    size = now;
  }
  return undefined;
}

/** Self size (bytes) and count of a heap snapshot's nodes, by `type:name` (name = constructor for objects). */
function snapshotSummary(path: string): Map<string, { bytes: number; count: number }> {
  const snap = JSON.parse(readFileSync(path, "utf8")) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const types = snap.snapshot.meta.node_types[0];
  const out = new Map<string, { bytes: number; count: number }>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] ?? "?";
    const rawName = snap.strings[snap.nodes[i + nameAt] as number] ?? "?";
    const name =
      type === "string" || type === "concatenated string" || type === "sliced string"
        ? "(string)"
        : type === "number"
          ? "(number)"
          : rawName.slice(0, 80);
    const key = `${type}:${name}`;
    const entry = out.get(key) ?? { bytes: 0, count: 0 };
    entry.bytes += snap.nodes[i + sizeAt] as number;
    entry.count += 1;
    out.set(key, entry);
  }
  return out;
}

/** The biggest growths from `before` to `after` (bytes of self size). */
function snapshotGrowth(before: string, after: string, top = 15): string[] {
  const a = snapshotSummary(before);
  const b = snapshotSummary(after);
  const total = (m: Map<string, { bytes: number }>) => [...m.values()].reduce((s, e) => s + e.bytes, 0);
  const rows = [...b]
    .map(([key, e]) => ({ key, bytes: e.bytes - (a.get(key)?.bytes ?? 0), count: e.count - (a.get(key)?.count ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top);
  return [
    `  heap (self sizes): ${(total(a) / 2 ** 20).toFixed(1)} MiB → ${(total(b) / 2 ** 20).toFixed(1)} MiB`,
    ...rows.map((r) => `  ${(r.bytes / 2 ** 20).toFixed(2).padStart(8)} MiB ${String(r.count).padStart(9)} ×  ${r.key}`),
  ];
}

// -- the run -----------------------------------------------------------------------------------

const started = performance.now();
const nodeOptions: Record<string, string> = SNAPSHOT_DIR
  ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${SNAPSHOT_DIR}` }
  : {};
if (SNAPSHOT_DIR) mkdirSync(SNAPSHOT_DIR, { recursive: true });
log(`bench:memory — ${SUBMISSIONS} hostile submissions at ${RATE}/s (seed ${SEED}), ${TASKS} valid tasks, ${SETTLE_S} s settle`);
const stack = await startBatonStack(
  "memory",
  [
    { spec: SUPERVISOR },
    { spec: SYNTHESIZER },
    { spec: codeAgent() },
    { spec: workerAgent("data-agent") },
    { spec: workerAgent("research-agent") },
  ],
  nodeOptions,
);
const probe = memoryProbe(stack.processes, stack.nats.server.process.pid);
const readings: { label: string; values: Map<string, { rssMiB: number; hwmMiB: number }> }[] = [];
const read = (label: string) => {
  readings.push({ label, values: probe() });
  const total = [...(readings.at(-1)?.values.values() ?? [])].reduce((s, v) => s + v.rssMiB, 0);
  log(`[${((performance.now() - started) / 1_000).toFixed(0)} s] ${label}: ${total.toFixed(0)} MiB in all`);
};
const snapshots = new Map<string, string[]>();
const snapshotAll = async () => {
  if (!SNAPSHOT_DIR) return;
  for (const p of stack.processes) {
    const pid = p.child.pid;
    if (pid === undefined) continue;
    const file = await takeSnapshot(pid, SNAPSHOT_DIR);
    if (file) snapshots.set(p.label, [...(snapshots.get(p.label) ?? []), file]);
  }
};

const driver = await BatonDriver.connect(stack.url, "mem");
try {
  // Warm-up: every code path once (a small hostile corpus, a few valid tasks), then quiet.
  await runHostileCorpus(stack.nc, generateHostileCorpus({ count: 200, seed: SEED + 1, prefix: "warm" }), { ratePerSecond: RATE });
  await runValidTasks(driver, 40, 8);
  await settle(60_000);
  read("start");
  await snapshotAll();

  const corpus = generateHostileCorpus({ count: SUBMISSIONS, seed: SEED, prefix: "mem" });
  log(`fuzz: ${corpus.length} submissions, ${(corpus.reduce((s, c) => s + c.payload.byteLength, 0) / 1e6).toFixed(1)} MB`);
  const load = loadSnapshot();
  const fuzz = await runHostileCorpus(stack.nc, corpus, { ratePerSecond: RATE, log: (l) => log(`  ${l}`) });
  const others = foreignLoad(load, loadSnapshot());
  const { total } = summarize(fuzz, 1_000);
  const unanswered = fuzz.results.filter((r) => !r.answer).length;
  log(
    `fuzz answered: ${total.count - unanswered}/${total.count}; not as expected (code, 1 s, outcome): ${fuzz.results.filter((r) => problemOf(r, 1_000)).length}; latency p50 ${total.p50.toFixed(1)} ms, p99 ${total.p99.toFixed(1)} ms, max ${total.max.toFixed(1)} ms; processes outside the bench used ${(others * 100).toFixed(0)} % of the cores meanwhile`,
  );
  if (process.env.BENCH_MEMORY_TABLE) log(formatReport(fuzz, 1_000));
  read("after fuzz");

  const tasksStarted = performance.now();
  const tasks = await runValidTasks(driver, TASKS, 16);
  log(
    `tasks: ${tasks.completed} completed, ${tasks.failed} failed in ${((performance.now() - tasksStarted) / 1_000).toFixed(1)} s${tasks.errors.length ? `; e.g. ${tasks.errors.join(" | ")}` : ""}`,
  );
  read("after tasks");

  await sleep(SETTLE_S * 1_000);
  read(`settled (${SETTLE_S} s)`);
  if (SNAPSHOT_DIR) {
    await snapshotAll();
    // Writing a heap snapshot starts with a full garbage collection: what is left is retained.
    read("after the snapshots (full GC)");
  }
} finally {
  await driver.close();
  await stack.stop();
}

// -- report ------------------------------------------------------------------------------------

const labels = [...new Set(readings.flatMap((r) => [...r.values.keys()]))];
const mib = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? "—" : v.toFixed(1));
const header = `| process | ${readings.map((r) => `${r.label} (MiB)`).join(" | ")} | last ÷ start | peak VmHWM (MiB) |`;
const rule = `| --- | ${readings.map(() => "---:").join(" | ")} | ---: | ---: |`;
const rows = labels.map((label) => {
  const v = readings.map((r) => r.values.get(label)?.rssMiB);
  const first = v[0];
  const last = v.at(-1);
  const ratio = first && last ? (last / first).toFixed(2) : "—";
  const peak = Math.max(...readings.map((r) => r.values.get(label)?.hwmMiB ?? 0));
  return `| ${label} | ${v.map(mib).join(" | ")} | ${ratio} | ${mib(peak)} |`;
});
const sums = readings.map((r) => [...r.values].filter(([k]) => k !== "nats-server").reduce((s, [, v]) => s + v.rssMiB, 0));
rows.push(`| **Baton services, all** | ${sums.map(mib).join(" | ")} | ${sums[0] ? ((sums.at(-1) ?? 0) / sums[0]).toFixed(2) : "—"} | |`);
log(`\n${header}\n${rule}\n${rows.join("\n")}\n`);
for (const [label, files] of snapshots) {
  const [before, after] = files;
  if (!before || !after) continue;
  log(`${label}: what grew between the heap snapshots at start and settled (${before} → ${after})`);
  try {
    for (const line of snapshotGrowth(before, after)) log(line);
  } catch (error) {
    log(`  could not read the snapshots: ${error instanceof Error ? error.message : String(error)}`);
  }
}
log(`total ${((performance.now() - started) / 1_000).toFixed(0)} s`);
