import { BudgetLedger, StepResult, StepWork, TaskEvent, TaskState } from "@baton/contracts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { z } from "zod";
import { type CpuBreakdown, summarizeCpuProfiles } from "../lib/cpu-profile.ts";
import { childrenOf, cpuPerTask, cpuProbe, serviceRoles } from "../lib/procfs.ts";
import { BatonDriver, RawDriver } from "../lib/drivers.ts";
import { median } from "../lib/histogram.ts";
import { chainPlan, fanoutPlan } from "../lib/plans.ts";
import { type BatonStack, codeAgent, ROOT, settle, startBatonStack, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";
import {
  batonHops,
  type CriticalPath,
  criticalPath,
  type Hop,
  rawHops,
  requestsOf,
  roleOf,
  type Segment,
  type WireRequest,
} from "../lib/wire-analysis.ts";
import { startWireRecorder, type WireRecorder } from "../lib/wire-recorder.ts";
import { startRawStack } from "../raw/stack.ts";

/** One row of a profile table: a median over the profiled tasks. */
export interface ProfileRow {
  readonly where: string;
  readonly what: string;
  readonly ms: number;
  /** Share of the profiled tasks in which the row occurred (1 = every task). */
  readonly seen: number;
}

export interface ProfileSide {
  readonly tasks: number;
  /** End-to-end (first publish → outcome delivery) as seen by the proxy, median. */
  readonly taskMs: number;
  /** The middle step of a 3-step task: supervisor handles result 1 → … → supervisor receives result 2. */
  readonly stepMs: number;
  readonly stepRows: ProfileRow[];
  /** The step's time by kind (median per kind, so they need not add up exactly). */
  readonly stepByKind: ProfileRow[];
  /** What each process did right after handing the step on (off the critical path). */
  readonly afterRows: ProfileRow[];
  /** The whole task, segment by segment. */
  readonly taskRows: ProfileRow[];
}

export interface ValidationCost {
  readonly schema: string;
  readonly bytes: number;
  /** JSON.parse + zod safeParse, µs per message. */
  readonly parseUs: number;
  /** zod safeParse alone, µs. */
  readonly zodUs: number;
}

export interface ProfileResults {
  readonly baton: ProfileSide;
  readonly raw: ProfileSide;
  readonly validation: ValidationCost[];
  /** Validations (decode or encode) on the step's critical path, by process, and their estimated CPU. */
  readonly validationPerStep: { where: string; count: number; ms: number }[];
  /**
   * CPU ms per task of the code agent's expression-evaluator child process while the wire profile
   * and the CPU profile were recorded (normally ~0.5; far more means a garbage-collection storm
   * that survived one settle-and-retry).
   */
  readonly evaluatorMsPerTask: { wire?: number; cpu?: number };
  /** Client → server operations per sequential 3-step task (every process, recorded window / tasks), by kind. */
  readonly opsPerTask: { what: string; baton: number; raw: number }[];
  /** Operations one fan-out task (16 → 1) causes, by process and kind (median over the profiled fan-out tasks). */
  readonly fanout: FanoutSummary;
  /** V8 CPU profiles of every Baton process over `tasks` sequential 3-step tasks, and procfs CPU per task of the same window. */
  readonly cpu?: { tasks: number; profiles: CpuBreakdown[]; procfsPerTask: Record<string, number>; evaluatorMsPerTask: number };
}

const BATON_HOP_NAMES = ["submit", "work s1", "result s1", "work s2", "result s2", "work s3", "result s3", "synthesis", "outcome"];
const RAW_HOP_NAMES = ["submit", "work 1", "result 1", "work 2", "result 2", "work 3", "result 3", "outcome"];
/** Hops 3 and 4 are the middle step: "work s2" (supervisor → worker) and "result s2" (worker → supervisor). */
const STEP_HOPS = [3, 4];

/**
 * Scenario `profile`: where a step's time goes. The services (and the client) connect through a
 * recording proxy (bench/lib/wire-recorder.ts) that timestamps every NATS protocol operation;
 * sequential 3-step tasks are then followed hop by hop, listing each round trip (KV get/update,
 * event and result publishes, consumer info) and the processes' own CPU time between them.
 * The same for the raw baseline. The proxy adds a local hop to every message, so absolute times
 * are a little higher than in the other scenarios.
 */
export async function runProfileScenario(
  tasks: number,
  warmup: number,
  log: (line: string) => void,
  options: { cpuTasks?: number } = {},
): Promise<ProfileResults> {
  // Baton
  let batonRec: WireRecorder | undefined;
  const stack = await startBatonStack(
    "profile",
    [{ spec: SUPERVISOR }, { spec: codeAgent() }, { spec: SYNTHESIZER }],
    {},
    {
      natsUrlFor: async (url) => {
        batonRec = await startWireRecorder(url);
        return batonRec.url;
      },
    },
  );
  const batonPaths: CriticalPath[] = [];
  let fanout: FanoutOps[] = [];
  const evaluatorMs: { wire?: number; cpu?: number } = {};
  let batonOps = new Map<string, number>();
  let rawOps = new Map<string, number>();
  const fanoutMs: number[] = [];
  try {
    const rec = batonRec as WireRecorder;
    const driver = await BatonDriver.connect(rec.url, "p");
    for (let i = 0; i < warmup; i++) await driver.runPlan(chainPlan(3));
    const recorded = await withoutEvaluatorStorm(stack, tasks, log, async () => {
      const taskIds: string[] = [];
      const first = rec.ops.length;
      rec.recording = true;
      for (let i = 0; i < tasks; i++) {
        taskIds.push((await driver.runPlan(chainPlan(3))).taskId);
        await new Promise((r) => setTimeout(r, 30)); // let the off-path work (acks, events, next pulls) finish
      }
      rec.recording = false;
      return { taskIds, first };
    });
    evaluatorMs.wire = recorded.evaluatorMsPerTask;
    const ids = recorded.result.taskIds;
    const requests = requestsOf(rec.ops);
    batonOps = countOps(requestsOf(rec.ops.slice(recorded.result.first)), ids.length);
    for (const id of ids) {
      const path = criticalPath(rec, requests, batonHops(id, "code", ["s1", "s2", "s3"]));
      if (path) batonPaths.push(path);
    }
    log(`  baton: ${batonPaths.length}/${ids.length} tasks followed through ${rec.ops.length} recorded operations`);
    // Fan-out tasks: count the operations one task causes and the compare-and-set conflicts on its state.
    for (let i = 0; i < 3; i++) await driver.runPlan(fanoutPlan(16));
    const fanIds: string[] = [];
    const firstOp = rec.ops.length;
    rec.recording = true;
    for (let i = 0; i < Math.max(3, Math.ceil(tasks / 4)); i++) {
      const run = await driver.runPlan(fanoutPlan(16));
      fanIds.push(run.taskId);
      fanoutMs.push(run.latencyMs);
      await new Promise((r) => setTimeout(r, 30));
    }
    rec.recording = false;
    const fanRequests = requestsOf(rec.ops.slice(firstOp));
    fanout = fanIds.map((id) => fanoutOps(rec, fanRequests, id));
    await driver.close();
  } finally {
    await stack.stop();
    await batonRec?.close();
  }

  // Raw baseline
  let rawRec: WireRecorder | undefined;
  const raw = await startRawStack({
    natsUrlFor: async (url) => {
      rawRec = await startWireRecorder(url);
      return rawRec.url;
    },
  });
  const rawPaths: CriticalPath[] = [];
  try {
    const rec = rawRec as WireRecorder;
    const driver = await RawDriver.connect(rec.url);
    for (let i = 0; i < warmup; i++) await driver.run("chain3");
    rec.recording = true;
    const first = rec.ops.length;
    for (let i = 0; i < tasks; i++) {
      await driver.run("chain3");
      await new Promise((r) => setTimeout(r, 30));
    }
    rec.recording = false;
    const requests = requestsOf(rec.ops);
    rawOps = countOps(requests, tasks);
    const ids = [
      ...new Set(rec.ops.slice(first).flatMap((o) => (o.subject.startsWith("raw.done.") ? [o.subject.slice("raw.done.".length)] : []))),
    ];
    for (const id of ids) {
      const path = criticalPath(rec, requests, rawHops(id, 3));
      if (path) rawPaths.push(path);
    }
    log(`  raw: ${rawPaths.length}/${ids.length} tasks followed through ${rec.ops.length} recorded operations`);
    await driver.close();
  } finally {
    await raw.stop();
    await rawRec?.close();
  }

  const validation = measureValidation(batonPaths);
  const cpu = options.cpuTasks ? await profileCpu(options.cpuTasks, warmup, log) : undefined;
  if (cpu) evaluatorMs.cpu = cpu.evaluatorMsPerTask;
  return {
    baton: summarizePaths(batonPaths, BATON_HOP_NAMES),
    raw: summarizePaths(rawPaths, RAW_HOP_NAMES),
    validation,
    validationPerStep: validationOnStep(batonPaths, validation),
    evaluatorMsPerTask: evaluatorMs,
    fanout: summarizeFanout(fanout, fanoutMs),
    opsPerTask: [...new Set([...batonOps.keys(), ...rawOps.keys()])]
      .map((what) => ({ what, baton: batonOps.get(what) ?? 0, raw: rawOps.get(what) ?? 0 }))
      .sort((a, b) => b.baton - a.baton || b.raw - a.raw),
    ...(cpu ? { cpu } : {}),
  };
}

/**
 * Runs the Baton services with a bench preload (bench/lib/cpu-prof-preload.ts) that profiles on
 * SIGUSR2, so the V8 profile covers exactly `tasks` sequential 3-step tasks after the warm-up;
 * procfs CPU per task is read over the same window.
 */
async function profileCpu(tasks: number, warmup: number, log: (line: string) => void): Promise<ProfileResults["cpu"]> {
  const dir = mkdtempSync(join(tmpdir(), "baton-bench-cpuprof-"));
  const stack = await startBatonStack("cpuprof", [{ spec: SUPERVISOR }, { spec: codeAgent() }, { spec: SYNTHESIZER }], {
    NODE_OPTIONS: `--import ${join(ROOT, "bench", "lib", "cpu-prof-preload.ts")}`,
    BENCH_CPU_PROFILE_DIR: dir,
  });
  try {
    const driver = await BatonDriver.connect(stack.url, "c");
    const roles = new Map<number, string>();
    for (const p of stack.processes) {
      const pid = p.child.pid;
      if (pid === undefined) continue;
      const role = p.label.replace(/-\d+$/, "");
      roles.set(pid, role);
      for (const child of childrenOf(pid)) roles.set(child, `${role} evaluator (child process)`);
    }
    const probe = cpuProbe([
      { role: "nats-server", pid: stack.nats.server.process.pid, withChildren: false },
      ...serviceRoles(stack.processes),
    ]);
    for (let i = 0; i < warmup; i++) await driver.runPlan(chainPlan(3));
    const signalAll = () => {
      for (const pid of roles.keys()) process.kill(pid, "SIGUSR2");
    };
    const window = await withoutEvaluatorStorm(stack, tasks, log, async () => {
      signalAll();
      await new Promise((r) => setTimeout(r, 200));
      const before = probe();
      for (let i = 0; i < tasks; i++) await driver.runPlan(chainPlan(3));
      const perTask = cpuPerTask(before, probe(), tasks);
      signalAll();
      await new Promise((r) => setTimeout(r, 1_000)); // profiles are written asynchronously
      return perTask;
    });
    const procfsPerTask = window.result;
    await driver.close();
    const profiles = summarizeCpuProfiles(dir, roles);
    log(`  cpu profiles: ${profiles.map((p) => `${p.role} ${(p.busyMs / tasks).toFixed(2)} ms/task`).join(", ")}`);
    return { tasks, profiles, procfsPerTask, evaluatorMsPerTask: window.evaluatorMsPerTask };
  } finally {
    await stack.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every client → server operation in the recording, by kind (label without process), divided by `tasks`. */
function countOps(requests: readonly WireRequest[], tasks: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) {
    if (r.op.verb !== "PUB" && r.op.verb !== "HPUB") continue;
    const what = r.label.startsWith("event ") ? "event publish" : r.label;
    out.set(what, (out.get(what) ?? 0) + 1 / Math.max(1, tasks));
  }
  return out;
}

/** Normal CPU of the evaluator child per 3-step task is ~0.5 ms; above this, a garbage-collection storm ran. */
export const EVALUATOR_STORM_MS_PER_TASK = 3;

/**
 * Runs `record` and measures the CPU the code agent's expression-evaluator child process used
 * meanwhile. That process sometimes spends seconds to tens of seconds in back-to-back garbage
 * collections (1–2 cores), which on 2 cores distorts everything else: then the processes are
 * left to settle and `record` runs once more.
 */
async function withoutEvaluatorStorm<T>(
  stack: BatonStack,
  tasks: number,
  log: (line: string) => void,
  record: () => Promise<T>,
): Promise<{ result: T; evaluatorMsPerTask: number }> {
  for (let attempt = 1; ; attempt++) {
    const probe = cpuProbe(serviceRoles(stack.processes).filter((r) => r.role.includes("evaluator")));
    const before = probe();
    const result = await record();
    const evaluatorMsPerTask = Object.values(cpuPerTask(before, probe(), tasks)).reduce((a, b) => a + b, 0);
    if (evaluatorMsPerTask <= EVALUATOR_STORM_MS_PER_TASK || attempt >= 2) return { result, evaluatorMsPerTask };
    log(
      `  the code agent's evaluator child process used ${evaluatorMsPerTask.toFixed(1)} ms CPU per task meanwhile ` +
        "(a garbage-collection storm): letting it settle and recording again",
    );
    await settle(60_000);
  }
}

/** What one fan-out task did on the wire. */
interface FanoutOps {
  /** `${role}: ${label}` → count. */
  readonly counts: Map<string, number>;
  /** Compare-and-set writes of the task's state refused as stale ("wrong last sequence"), retried by the supervisor. */
  readonly casConflicts: number;
  readonly casWrites: number;
}

export interface FanoutSummary {
  readonly tasks: number;
  readonly latencyMs: number;
  readonly casWrites: number;
  readonly casConflicts: number;
  /** Median count per task of each (process, operation). */
  readonly rows: { where: string; what: string; count: number }[];
}

/** Requests that belong to `taskId`: its subjects, its KV keys, or (acks) the delivery they acknowledge. */
function fanoutOps(rec: WireRecorder, requests: readonly WireRequest[], taskId: string): FanoutOps {
  const counts = new Map<string, number>();
  let casConflicts = 0;
  let casWrites = 0;
  const ackSubjects = new Set(
    rec.ops.filter((o) => o.dir === "in" && o.reply.startsWith("$JS.ACK.") && o.subject.includes(taskId)).map((o) => o.reply),
  );
  for (const r of requests) {
    const own = r.op.subject.includes(taskId) || r.op.payload.includes(`"${taskId}"`) || ackSubjects.has(r.op.subject);
    if (!own || r.label === "submit publish") continue;
    const key = `${roleOf(rec, r.conn)}\u0000${r.label}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (r.label.startsWith("KV update (CAS) baton_tasks")) {
      casWrites++;
      if (r.reply && /wrong last sequence/i.test(r.reply.payload)) casConflicts++;
    }
  }
  return { counts, casConflicts, casWrites };
}

function summarizeFanout(tasks: readonly FanoutOps[], latencies: readonly number[]): FanoutSummary {
  const keys = [...new Set(tasks.flatMap((t) => [...t.counts.keys()]))];
  return {
    tasks: tasks.length,
    latencyMs: median(latencies),
    casWrites: median(tasks.map((t) => t.casWrites)),
    casConflicts: median(tasks.map((t) => t.casConflicts)),
    rows: keys
      .map((key) => {
        const [where = "", what = ""] = key.split("\u0000");
        return { where, what, count: median(tasks.map((t) => t.counts.get(key) ?? 0)) };
      })
      .sort((a, b) => a.where.localeCompare(b.where) || b.count - a.count),
  };
}

function segmentWhere(seg: Segment, names: readonly string[]): string {
  if (seg.kind === "delivery") return `${names[seg.hop] ?? seg.hop}: publish → ${seg.role.replace("publish → ", "")} (JetStream)`;
  return `${seg.role}: ${names[seg.hop - 1] ?? "?"} in → ${names[seg.hop] ?? "?"} out`;
}

/** Medians over tasks of rows keyed by (where, what, occurrence), in the order of their first appearance. */
function aggregate(perTask: { where: string; what: string; ms: number }[][]): ProfileRow[] {
  const order: string[] = [];
  const values = new Map<string, { where: string; what: string; ms: number[] }>();
  for (const rows of perTask) {
    const seen = new Map<string, number>();
    for (const row of rows) {
      const base = `${row.where}\u0000${row.what}`;
      const n = (seen.get(base) ?? 0) + 1;
      seen.set(base, n);
      const key = `${base}\u0000${n}`;
      let entry = values.get(key);
      if (!entry) {
        entry = { where: row.where, what: n > 1 ? `${row.what} (#${n})` : row.what, ms: [] };
        values.set(key, entry);
        order.push(key);
      }
      entry.ms.push(row.ms);
    }
  }
  return order.map((key) => {
    const e = values.get(key) as { where: string; what: string; ms: number[] };
    return { where: e.where, what: e.what, ms: median(e.ms), seen: e.ms.length / Math.max(1, perTask.length) };
  });
}

function processRows(seg: Segment, where: string): { where: string; what: string; ms: number }[] {
  const rows = seg.requests.map((r) => ({ where, what: r.ms === undefined ? `${r.label} (no reply awaited)` : r.label, ms: r.ms ?? 0 }));
  rows.push({ where, what: "CPU between round trips", ms: seg.cpuMs });
  return rows;
}

function summarizePaths(paths: readonly CriticalPath[], names: readonly string[]): ProfileSide {
  const stepSegments = (p: CriticalPath) => p.segments.filter((s) => STEP_HOPS.includes(s.hop));
  const stepRows = aggregate(
    paths.map((p) =>
      stepSegments(p).flatMap((seg) => {
        const where = segmentWhere(seg, names);
        return seg.kind === "delivery" ? [{ where, what: "publish → delivery to the waiting pull", ms: seg.ms }] : processRows(seg, where);
      }),
    ),
  );
  const kinds = (p: CriticalPath) => {
    const segs = stepSegments(p);
    const sum = (f: (label: string) => boolean) =>
      segs.flatMap((s) => s.requests).reduce((a, r) => a + (r.ms !== undefined && f(r.label) ? r.ms : 0), 0);
    return [
      { where: "step", what: "KV round trips (get, update)", ms: sum((l) => l.startsWith("KV ")) },
      { where: "step", what: "event publishes awaited", ms: sum((l) => l.startsWith("event ")) },
      { where: "step", what: "other round trips", ms: sum((l) => !l.startsWith("KV ") && !l.startsWith("event ")) },
      { where: "step", what: "publish → delivery (2 hops)", ms: segs.filter((s) => s.kind === "delivery").reduce((a, s) => a + s.ms, 0) },
      ...segs.filter((s) => s.kind === "process").map((s) => ({ where: "step", what: `${s.role} CPU between round trips`, ms: s.cpuMs })),
    ];
  };
  const afterRows = aggregate(
    paths.map((p) =>
      p.after
        .filter((a) => STEP_HOPS.includes(a.hop))
        .flatMap((a) =>
          a.requests.map((r) => ({
            where: `${a.role} after publishing ${names[a.hop] ?? a.hop}`,
            what: r.ms === undefined ? `${r.label} (no reply awaited)` : r.label,
            ms: r.ms ?? 0,
          })),
        ),
    ),
  );
  const taskRows = aggregate(
    paths.map((p) =>
      p.segments.map((seg) => ({
        where: segmentWhere(seg, names),
        what: seg.kind === "delivery" ? "publish → delivery" : "process",
        ms: seg.ms,
      })),
    ),
  );
  // Each process segment is described by the round trips of the first profiled task.
  const first = paths[0];
  const detailed = taskRows.map((row) => {
    const seg = first?.segments.find((s) => segmentWhere(s, names) === row.where);
    if (!seg || seg.kind === "delivery") return row;
    const labels = seg.requests.filter((r) => r.ms !== undefined).map((r) => r.label);
    return { ...row, what: labels.length > 0 ? `${labels.length} round trips: ${labels.join(", ")}` : "no round trips" };
  });
  return {
    tasks: paths.length,
    taskMs: median(paths.map((p) => p.totalMs)),
    stepMs: median(paths.map((p) => stepSegments(p).reduce((a, s) => a + s.ms, 0))),
    stepRows,
    stepByKind: aggregate(paths.map(kinds)),
    afterRows,
    taskRows: detailed,
  };
}

/** The message schema behind a label (for the validation estimate). */
function schemaFor(label: string): string | undefined {
  if (label === "work publish") return "StepWork";
  if (label === "result publish") return "StepResult";
  if (label.startsWith("event ")) return "TaskEvent";
  if (label.endsWith("baton_tasks") && (label.startsWith("KV get") || label.startsWith("KV update") || label.startsWith("KV create")))
    return "TaskState";
  if (label === "KV get baton_budgets") return "BudgetLedger";
  return undefined;
}

const SCHEMAS: Record<string, z.ZodType> = { StepWork, StepResult, TaskEvent, TaskState, BudgetLedger };

/** Times JSON.parse + safeParse of real captured messages of each schema, in this process, warmed up. */
function measureValidation(paths: readonly CriticalPath[]): ValidationCost[] {
  const samples = new Map<string, string>();
  for (const p of paths.slice(0, 1)) {
    for (const seg of p.segments) {
      if (seg.message) {
        const schema = seg.message.subject.startsWith("work.")
          ? "StepWork"
          : seg.message.subject.startsWith("results.")
            ? "StepResult"
            : undefined;
        if (schema && !samples.has(schema)) samples.set(schema, seg.message.payload);
      }
      for (const r of seg.requests) {
        const schema = schemaFor(r.label);
        if (!schema || samples.has(schema)) continue;
        const text = r.label.startsWith("KV get") ? r.reply?.payload : r.op.payload;
        if (text) samples.set(schema, text);
      }
    }
  }
  const out: ValidationCost[] = [];
  for (const [name, text] of samples) {
    const schema = SCHEMAS[name];
    if (!schema) continue;
    const value: unknown = JSON.parse(text);
    if (!schema.safeParse(value).success) continue;
    const time = (f: () => void, n: number) => {
      for (let i = 0; i < 300; i++) f();
      const t = performance.now();
      for (let i = 0; i < n; i++) f();
      return ((performance.now() - t) * 1_000) / n;
    };
    const parseUs = time(() => schema.safeParse(JSON.parse(text)), 2_000);
    const zodUs = time(() => schema.safeParse(value), 2_000);
    out.push({ schema: name, bytes: Buffer.byteLength(text), parseUs, zodUs });
  }
  return out;
}

/** Validations on the middle step's critical path: each delivered message decoded, each KV value and publish validated. */
function validationOnStep(
  paths: readonly CriticalPath[],
  costs: readonly ValidationCost[],
): { where: string; count: number; ms: number }[] {
  const p = paths[0];
  if (!p) return [];
  const cost = new Map(costs.map((c) => [c.schema, c.parseUs / 1_000]));
  const out: { where: string; count: number; ms: number }[] = [];
  for (const hop of STEP_HOPS) {
    const seg = p.segments.find((s) => s.hop === hop && s.kind === "process");
    if (!seg) continue;
    const received = p.segments.find((s) => s.hop === hop - 1 && s.kind === "delivery")?.message?.subject ?? "";
    const schemas = [
      received.startsWith("work.") ? "StepWork" : "StepResult",
      ...seg.requests.flatMap((r) => schemaFor(r.label) ?? []),
      hop % 2 === 1 ? "StepWork" : "StepResult", // the publish that ends the segment
    ];
    out.push({ where: seg.role, count: schemas.length, ms: schemas.reduce((a, s) => a + (cost.get(s) ?? 0), 0) });
  }
  return out;
}

export type { Hop };
