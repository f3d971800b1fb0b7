import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { BatonResults } from "../scenarios/baton.ts";
import { EVALUATOR_STORM_MS_PER_TASK, type ProfileResults, type ProfileRow } from "../scenarios/profile.ts";
import type { RecoveryResults } from "../scenarios/recovery.ts";
import { type RestateOutcome, type RestateResults, restateRan } from "../scenarios/restate.ts";
import { RESTATE_SDK_VERSION, RESTATE_SERVER_VERSION } from "../restate/install.ts";
import type { ScalingResults } from "../scenarios/scaling.ts";
import { median } from "./histogram.ts";
import type { PatternResults } from "./load.ts";
import { ZERO_TOOL } from "./plans.ts";
import { natsServerVersion, ROOT } from "./stack.ts";

/** Everything a bench run measured (absent: the scenario was not run). */
export interface BenchResults {
  readonly quick: boolean;
  /** Tasks in flight in the throughput runs. */
  readonly throughputConcurrency: number;
  readonly raw?: PatternResults;
  readonly baton?: BatonResults;
  readonly batonTraced?: BatonResults;
  /** Restate as a peer: an orchestrator service calling a worker service per step, or the reason it did not run. */
  readonly restateServices?: RestateOutcome;
  /** Restate as a peer: journaled `ctx.run` steps in one handler, or the reason it did not run. */
  readonly restateJournal?: RestateOutcome;
  readonly scaling?: ScalingResults;
  readonly recovery?: RecoveryResults;
  readonly profile?: ProfileResults;
  readonly seconds: number;
  /** Per scenario: share of the cores used by processes outside this bench while it ran. */
  readonly foreignLoad: Record<string, number>;
}

export interface Environment {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly natsServer: string;
  readonly jetstream: string;
  readonly transport: string;
  readonly commit: string;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

export function environment(): Environment {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).trim();
    if (dirty) commit += " (+ uncommitted changes)";
  } catch {
    // not a git checkout
  }
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    natsServer: natsServerVersion(),
    jetstream: packageVersion("@nats-io/jetstream"),
    transport: packageVersion("@nats-io/transport-node"),
    commit,
  };
}

const f = (v: number | undefined, digits = 2) => (v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0 ? undefined : a / b;
const minus = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
const met = (ok: boolean | undefined) => (ok === undefined ? "—" : ok ? "met" : "**not met**");

/**
 * (3-step − 1-step) / 2 of a percentile — the cost of one more step — computed per run (the two
 * are measured back to back) and then the median over runs.
 */
export function perStep(p: PatternResults | undefined, percentile: "p50" | "p99"): number | undefined {
  if (!p) return undefined;
  const one = percentile === "p50" ? p.perRun.chain1P50 : p.perRun.chain1P99;
  const three = percentile === "p50" ? p.perRun.chain3P50 : p.perRun.chain3P99;
  return median(one.map((v, i) => ((three[i] ?? Number.NaN) - v) / 2));
}

/** The critical path of the fan-out task: a 2-step chain (one parallel step, then the join), interpolated from the 1- and 3-step p50. */
function chain2(p: PatternResults | undefined): number | undefined {
  return p ? (p.chain1.p50 + p.chain3.p50) / 2 : undefined;
}

function cpuTotal(cpu: Record<string, number> | undefined): number | undefined {
  return cpu ? Object.values(cpu).reduce((a, b) => a + b, 0) : undefined;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

export interface Target {
  readonly name: string;
  readonly value: string;
  readonly ok: boolean | undefined;
  readonly tracedValue?: string;
  readonly tracedOk?: boolean | undefined;
}

export function targets(r: BenchResults): Target[] {
  const b = r.baton;
  const t = r.batonTraced;
  const step = perStep(b, "p50");
  const stepT = perStep(t, "p50");
  const thr = ratio(b?.throughput, r.raw?.throughput);
  const thrT = ratio(t?.throughput, r.raw?.throughput);
  const eff4 = r.scaling?.points.find((p) => p.replicas === 4)?.efficiency;
  const rec = r.recovery;
  const journal = restateRan(r.restateJournal) ? r.restateJournal : undefined;
  const stepJ = perStep(journal, "p50");
  const vsJournal = (value: number | undefined, peer: number | undefined, unit: string, digits: number) =>
    `${f(value, digits)} ${unit} vs ${f(peer, digits)} ${unit} (${f(ratio(value, peer), 2)} ×)`;
  const atMost = (value: number | undefined, limit: number | undefined) =>
    value === undefined || limit === undefined ? undefined : value <= limit;
  const atLeast = (value: number | undefined, limit: number | undefined) =>
    value === undefined || limit === undefined ? undefined : value >= limit;
  const rawStep = perStep(r.raw, "p50");
  const fan = (p: PatternResults | undefined) => ratio(p?.fanout.p50, p ? chain2(p) : undefined);
  const tracedCost = ratio(t?.chain3.p50, b?.chain3.p50);
  const tracedCpu = ratio(cpuTotal(t?.cpu?.sequential), cpuTotal(b?.cpu?.sequential));
  return [
    {
      name: "per-step overhead p50 ≤ 1.5 × raw's",
      value: `${f(step)} ms = ${f(ratio(step, rawStep), 2)} × raw (${f(rawStep)} ms)`,
      ok: atMost(ratio(step, rawStep), 1.5),
      tracedValue: `${f(stepT)} ms = ${f(ratio(stepT, rawStep), 2)} × raw`,
      tracedOk: atMost(ratio(stepT, rawStep), 1.5),
    },
    {
      name: "3-step tasks/s ≥ 0.5 × raw's",
      value: `${f(thr, 3)} × raw`,
      ok: thr === undefined ? undefined : thr >= 0.5,
      tracedValue: `${f(thrT, 3)} × raw`,
      tracedOk: thrT === undefined ? undefined : thrT >= 0.5,
    },
    {
      name: "16-way fan-out p50 ≤ 2 × its critical path",
      value: `${f(fan(b), 2)} ×`,
      ok: atMost(fan(b), 2),
      tracedValue: `${f(fan(t), 2)} ×`,
      tracedOk: atMost(fan(t), 2),
    },
    {
      name: "tracing on ≤ 1.10 × off (3-step p50; CPU per task)",
      value: `${f(tracedCost, 2)} ×; CPU ${f(tracedCpu, 2)} ×`,
      ok: tracedCost === undefined ? undefined : tracedCost <= 1.1 && (tracedCpu === undefined || tracedCpu <= 1.1),
    },
    { name: "scaling efficiency ≥ 0.9 at 4 replicas", value: f(eff4, 3), ok: eff4 === undefined ? undefined : eff4 >= 0.9 },
    {
      name: "recovery ≤ ack_wait + 1 s",
      value: rec
        ? `${f(rec.recoveryMs / 1_000, 2)} s (limit ${f(rec.ackWaitMs / 1_000 + 1, 1)} s; killed ${f(rec.killAfterMs / 1_000, 1)} s into a ` +
          `${f(rec.stepMs / 1_000, 1)} s step: the rest of ack_wait + the re-run alone take ` +
          `${f((rec.ackWaitMs - rec.killAfterMs + rec.stepMs) / 1_000, 1)} s)`
        : "—",
      ok: rec ? rec.recoveryMs <= rec.ackWaitMs + 1_000 : undefined,
    },
    {
      name: "per-step overhead p50 ≤ Restate journaled's (`ctx.run`)",
      value: vsJournal(step, stepJ, "ms", 2),
      ok: atMost(step, stepJ),
      tracedValue: vsJournal(stepT, stepJ, "ms", 2),
      tracedOk: atMost(stepT, stepJ),
    },
    {
      name: "throughput ≥ Restate journaled's",
      value: vsJournal(b?.throughput, journal?.throughput, "tasks/s", 1),
      ok: atLeast(b?.throughput, journal?.throughput),
      tracedValue: vsJournal(t?.throughput, journal?.throughput, "tasks/s", 1),
      tracedOk: atLeast(t?.throughput, journal?.throughput),
    },
  ];
}

/** How the report names each Restate shape. */
const PEER_LABEL: Record<RestateResults["shape"], string> = { services: "services", journal: "journaled" };

/** The Restate shapes that ran, in column order. */
function restatePeers(r: BenchResults): { label: string; results: RestateResults }[] {
  return [r.restateServices, r.restateJournal].filter(restateRan).map((results) => ({ label: PEER_LABEL[results.shape], results }));
}

/** The Markdown report: environment, the figures table, scaling, recovery, targets and the profile. */
export function renderMarkdown(r: BenchResults, env: Environment, date: Date): string {
  const raw = r.raw;
  const b = r.baton;
  const t = r.batonTraced;
  const peers = restatePeers(r);
  const withRestate = r.restateServices !== undefined || r.restateJournal !== undefined;
  const out: string[] = [];
  out.push(`## Benchmark results${r.quick ? " (quick run — not for comparison)" : ""}`);
  out.push("");
  out.push(
    `Measured ${date.toISOString().slice(0, 16).replace("T", " ")} UTC with \`npm run bench\`${r.quick ? " --quick" : ""} ` +
      `(${f(r.seconds / 60, 1)} min) at commit ${env.commit}. Each figure is the median of ${b?.runs ?? raw?.runs ?? peers[0]?.results.runs ?? "—"} runs ` +
      `(HDR histograms per run, after a discarded warm-up).`,
  );
  out.push("");
  out.push(
    `Machine: ${env.cpu}, ${env.cores} cores, ${f(env.memoryGiB, 1)} GiB RAM. Versions: Node ${env.node}, nats-server ${env.natsServer}, ` +
      `@nats-io/jetstream ${env.jetstream}, @nats-io/transport-node ${env.transport}` +
      (withRestate
        ? `; peer: restate-server ${RESTATE_SERVER_VERSION}, @restatedev/restate-sdk ${RESTATE_SDK_VERSION} (installed on demand in bench/.peers/restate/)`
        : "") +
      `. Every process (nats-server${withRestate ? ", restate-server" : ""}, services, bench client) shares the same cores.`,
  );
  out.push("");
  const loads = Object.entries(r.foreignLoad);
  if (loads.length > 0) {
    const disturbed = loads.filter(([, v]) => v > 0.1).map(([k]) => k);
    out.push(
      `Other load on the machine while each scenario ran (CPU of processes outside this bench, share of all cores): ` +
        `${loads.map(([k, v]) => `${k} ${f(v * 100, 1)} %`).join(", ")}.` +
        (disturbed.length > 0 ? ` **Disturbed: ${disturbed.join(", ")} — rerun those on a quiet machine.**` : ""),
    );
    out.push("");
  }
  for (const x of [r.restateServices, r.restateJournal]) {
    if (x && !restateRan(x)) {
      out.push(`**Restate (${PEER_LABEL[x.shape]}): not run — ${x.notRun}**`);
      out.push("");
    }
  }
  if (raw || b || t || peers.length > 0) {
    out.push(
      `Tasks use explicit plans; Baton's zero-latency tool is the code agent's \`${ZERO_TOOL}\` on a one-operator expression ` +
        `(p50 ${f(b?.tool.p50)} ms as reported by the worker). Baton runs the supervisor, the code agent and the synthesizer ` +
        "(WORKER_CONCURRENCY 4, SUPERVISOR_CONCURRENCY 8, LOG_LEVEL=warn); the raw baseline runs a raw supervisor and worker with the same slot counts.",
    );
    out.push("");
    if (peers.length > 0) {
      out.push(
        "Restate, the peer: a private single-node restate-server (default configuration, its own temporary data folder) and the bench's " +
          "services in Node processes (bench/restate/, HTTP/2, registered through the admin API, RESTATE_LOGGING=WARN). Each task is one " +
          "request-response call to the HTTP ingress (`POST /<service>/<handler>`, HTTP/1.1 keep-alive from the bench client), timed from just " +
          "before the request to the end of the response. A step adds the numbers it is given (plain JavaScript, like the raw worker); " +
          "each step's input holds the previous step's result. **Services**: an orchestrator service calls a worker service in another Node " +
          "process for every step (`ctx.serviceClient(…).step(…)`, journaled calls; the fan-out awaits 16 with `RestatePromise.all`, then " +
          "calls the join). **Journaled**: every step is a `ctx.run` in the one handler (the fan-out: 16 `ctx.run` awaited with " +
          "`RestatePromise.all`, then one more).",
      );
      out.push("");
    }
    const inFlight = r.throughputConcurrency;
    const row = (name: string, pick: (p: PatternResults) => number | undefined, digits = 2, withRatio = true) => {
      const rv = raw ? pick(raw) : undefined;
      const bv = b ? pick(b) : undefined;
      const tv = t ? pick(t) : undefined;
      const pv = peers.map((p) => pick(p.results));
      return [
        name,
        f(rv, digits),
        f(bv, digits),
        f(tv, digits),
        withRatio ? f(ratio(bv, rv), 2) : "",
        withRatio ? f(ratio(tv, rv), 2) : "",
        ...pv.map((v) => f(v, digits)),
        ...pv.map((v) => (withRatio ? f(ratio(v, rv), 2) : "")),
      ];
    };
    const rows: string[][] = [
      row("1-step task, concurrency 1: p50 (ms)", (p) => p.chain1.p50),
      row("1-step task, concurrency 1: p99 (ms)", (p) => p.chain1.p99),
      row("3-step task, concurrency 1: p50 (ms)", (p) => p.chain3.p50),
      row("3-step task, concurrency 1: p99 (ms)", (p) => p.chain3.p99),
      row("per-step overhead p50 = (3-step p50 − 1-step p50) / 2, per run (ms)", (p) => perStep(p, "p50")),
      row("per-step overhead p99 = (3-step p99 − 1-step p99) / 2, per run (ms)", (p) => perStep(p, "p99")),
      [
        "per-step overhead p50, minus raw's (ms)",
        "",
        f(minus(perStep(b, "p50"), perStep(raw, "p50"))),
        f(minus(perStep(t, "p50"), perStep(raw, "p50"))),
        "",
        "",
        ...peers.map((p) => f(minus(perStep(p.results, "p50"), perStep(raw, "p50")))),
        ...peers.map(() => ""),
      ],
      row(`throughput, 3-step tasks, ${inFlight} in flight (tasks/s)`, (p) => p.throughput, 1),
      row("  latency at that load: p50 (ms)", (p) => p.throughputLatency.p50, 1),
      row("  latency at that load: p99 (ms)", (p) => p.throughputLatency.p99, 1),
      row("fan-out 16 parallel steps → 1 dependent step: p50 (ms)", (p) => p.fanout.p50),
      row("fan-out 16 → 1: p99 (ms)", (p) => p.fanout.p99),
      row("  its critical path, a 2-step chain ≈ (1-step p50 + 3-step p50) / 2 (ms)", chain2),
      row("  fan-out p50 ÷ critical path", (p) => ratio(p.fanout.p50, chain2(p)), 2, false),
      row("  fan-out p50 ÷ one step's time (per-step overhead p50)", (p) => ratio(p.fanout.p50, perStep(p, "p50")), 1, false),
      row("CPU per 3-step task, all processes, concurrency 1 (ms)", (p) => cpuTotal(p.cpu?.sequential), 1),
      row(`CPU per 3-step task, all processes, at ${inFlight} in flight (ms)`, (p) => cpuTotal(p.cpu?.loaded), 1),
    ];
    out.push(
      table(
        [
          "figure",
          "raw nats.js",
          "Baton, tracing off",
          "Baton, tracing on",
          "off ÷ raw",
          "on ÷ raw",
          ...peers.map((p) => `Restate, ${p.label}`),
          ...peers.map((p) => `${p.label} ÷ raw`),
        ],
        rows,
      ),
    );
    out.push("");
    const settling = [
      ...(raw?.settledMs !== undefined ? [`raw ${f(raw.settledMs / 1_000, 1)} s`] : []),
      ...[b, t].flatMap((x) =>
        x?.settledMs !== undefined
          ? [
              `Baton${x.tracing ? " (tracing on)" : ""} ${f(x.settledMs / 1_000, 1)} s (CPU meanwhile: ${Object.entries(x.settleCpu)
                .map(([k, v]) => `${k} ${f(v, 0)} ms`)
                .join(", ")})`,
            ]
          : [],
      ),
      ...peers.flatMap((p) => (p.results.settledMs !== undefined ? [`Restate, ${p.label} ${f(p.results.settledMs / 1_000, 1)} s`] : [])),
    ];
    if (settling.length > 0) {
      out.push(
        `Before the warm-up, each stack waited until its processes were quiet (watched ≥ 3 s, then < 15 % of a core for 1 s; at most 30 s): ${settling.join("; ")}.`,
      );
      out.push("");
    }
    if (t?.export) {
      out.push(
        `Tracing on: every service exported spans over OTLP/HTTP to a local sink in the bench process — ${t.export.spans.toLocaleString("en-US")} spans in ` +
          `${t.export.requests.toLocaleString("en-US")} POST /v1/traces requests (${f(t.export.bytes / 1024 ** 2, 1)} MiB).`,
      );
      out.push("");
    }
    const cpuRows = (p: PatternResults | undefined, label: string) =>
      p?.cpu ? Object.keys(p.cpu.sequential).map((role) => [label, role, f(p.cpu?.sequential[role], 2), f(p.cpu?.loaded[role], 2)]) : [];
    const cpu = [
      ...cpuRows(raw, "raw"),
      ...cpuRows(b, "Baton, tracing off"),
      ...cpuRows(t, "Baton, tracing on"),
      ...peers.flatMap((p) => cpuRows(p.results, `Restate, ${p.label}`)),
    ];
    const storms = [
      ["raw", raw],
      ["Baton, tracing off", b],
      ["Baton, tracing on", t],
    ].flatMap(([label, p]) =>
      typeof p === "object" && p?.cpu
        ? Object.entries(p.cpu.sequential)
            .filter(([role, ms]) => role.includes("evaluator") && ms > EVALUATOR_STORM_MS_PER_TASK)
            .map(([, ms]) => `${label as string} (${f(ms, 1)} ms CPU per task)`)
        : [],
    );
    if (cpu.length > 0) {
      out.push(
        "CPU time per 3-step task by process (procfs user + system; the code agent's expression-evaluator child process on its own line):",
      );
      out.push("");
      out.push(table(["run", "process", "ms CPU / task, concurrency 1", `ms CPU / task, ${inFlight} in flight`], cpu));
      out.push("");
      if (storms.length > 0) {
        out.push(
          `**The code agent's expression-evaluator child process had a garbage-collection storm during ${storms.join(", ")}; ` +
            "normally it uses ~0.5 ms per task.** It sometimes spends seconds to tens of seconds in back-to-back collections " +
            "(1–2 cores) right after start or later, which slows everything else on 2 cores; each figure is a median over runs, " +
            "so one affected run moves it little.",
        );
        out.push("");
      }
    }
  }
  if (r.scaling) {
    const s = r.scaling;
    out.push(
      `Scaling: replicas of a worker whose tool sleeps ${s.sleepMs} ms (bench/sleep-agent.ts, WORKER_CONCURRENCY=1 each), ` +
        `tasks of ${s.stepsPerTask} parallel steps all submitted at once.`,
    );
    out.push("");
    out.push(
      table(
        ["replicas", "steps per run", "ideal run (s)", "steps/s", "efficiency = thr(n) / (n × thr(1))", "target"],
        s.points.map((p) => [
          String(p.replicas),
          String(p.steps),
          f(p.idealSeconds, 1),
          f(p.stepsPerSecond, 2),
          f(p.efficiency, 3),
          p.replicas === 4 ? `≥ 0.9: ${met(p.efficiency >= 0.9)}` : "",
        ]),
      ),
    );
    out.push("");
  }
  if (r.recovery) {
    const k = r.recovery;
    out.push(
      `Recovery: \`kill -9\` of the sleep-agent replica running a ${f(k.stepMs / 1_000, 1)} s step, ${f(k.killAfterMs / 1_000, 1)} s into it; ` +
        `WORK_ACK_WAIT_MS=5000 on every service; ack_wait in force (read back with \`jsm.consumers.info("BATON_WORK", "sleep-agent")\`): ${f(k.ackWaitMs, 0)} ms.`,
    );
    out.push("");
    out.push(
      table(
        ["figure", "median", "runs"],
        [
          [
            "kill → step redelivered and started on the other replica (s)",
            f(k.redeliveryMs / 1_000),
            k.runs.map((x) => f(x.redeliveryMs / 1_000)).join(", "),
          ],
          ["kill → task outcome (s)", f(k.recoveryMs / 1_000), k.runs.map((x) => f(x.recoveryMs / 1_000)).join(", ")],
          ["  of which the step's re-run on the other replica (s)", f(k.stepMs / 1_000), ""],
          [
            "  Baton's own part: outcome − (redelivery + re-run) (ms)",
            f(k.recoveryMs - k.redeliveryMs - k.stepMs, 0),
            k.runs.map((x) => f(x.recoveryMs - x.redeliveryMs - k.stepMs, 0)).join(", "),
          ],
        ],
      ),
    );
    out.push("");
  }
  const ts = targets(r);
  out.push("Targets:");
  out.push("");
  out.push(
    table(
      ["target", "Baton, tracing off", "", "Baton, tracing on", ""],
      ts.map((x) => [x.name, x.value, met(x.ok), x.tracedValue ?? "", x.tracedValue ? met(x.tracedOk) : ""]),
    ),
  );
  out.push("");
  if (r.profile) out.push(renderProfile(r.profile));
  return out.join("\n");
}

function rowsTable(rows: readonly ProfileRow[], total?: number): string {
  const body = rows.map((x) => [x.where, x.what, f(x.ms, 3), x.seen < 1 ? `${Math.round(x.seen * 100)} %` : ""]);
  if (total !== undefined) body.push(["**total**", "", `**${f(total, 3)}**`, ""]);
  return table(["where", "what", "ms (median)", "seen in"], body);
}

export function renderProfile(p: ProfileResults): string {
  const out: string[] = [];
  out.push("### Profile: where a step's time goes");
  out.push("");
  out.push(
    `The services and the client connected through a recording NATS proxy (bench/lib/wire-recorder.ts) that timestamps every protocol ` +
      `operation; ${p.baton.tasks} sequential 3-step tasks were followed hop by hop (medians below). The proxy adds a local hop to every ` +
      `message, so times here are somewhat higher than in the table above. Round trip = request out → reply in, at the proxy; ` +
      `"CPU between round trips" = the rest of the process's time in the segment (its own work, and waiting for a core).`,
  );
  out.push("");
  const ev = p.evaluatorMsPerTask;
  if ((ev.wire ?? 0) > EVALUATOR_STORM_MS_PER_TASK || (ev.cpu ?? 0) > EVALUATOR_STORM_MS_PER_TASK) {
    out.push(
      `**Distorted: the code agent's expression-evaluator child process was in a garbage-collection storm while the profile was recorded ` +
        `(${f(ev.wire, 1)} ms CPU per task during the wire profile, ${f(ev.cpu, 1)} during the CPU profile; normally ~0.5), even after one ` +
        "settle-and-retry. Its CPU competes with every other process on 2 cores.**",
    );
    out.push("");
  }
  out.push(
    `One Baton step (the middle step of a 3-step task: the supervisor receives result s1 … the supervisor receives result s2): ` +
      `**${f(p.baton.stepMs)} ms**; the same step on the raw baseline: **${f(p.raw.stepMs)} ms**. Whole task: Baton ${f(p.baton.taskMs)} ms, raw ${f(p.raw.taskMs)} ms.`,
  );
  out.push("");
  out.push(rowsTable(p.baton.stepRows, p.baton.stepMs));
  out.push("");
  out.push("By kind (Baton step):");
  out.push("");
  out.push(
    table(
      ["what", "ms (median)"],
      p.baton.stepByKind.map((x) => [x.what, f(x.ms, 3)]),
    ),
  );
  out.push("");
  out.push("Raw baseline step:");
  out.push("");
  out.push(rowsTable(p.raw.stepRows, p.raw.stepMs));
  out.push("");
  if (p.opsPerTask.length > 0) {
    const total = (k: "baton" | "raw") => p.opsPerTask.reduce((a, x) => a + x[k], 0);
    out.push(
      `Client → server operations per sequential 3-step task, all processes (everything recorded during the measured tasks ÷ tasks): ` +
        `Baton ${f(total("baton"), 0)}, raw ${f(total("raw"), 0)}. Each request with a reply is a JetStream API call the server handles.`,
    );
    out.push("");
    out.push(
      table(
        ["operation", "Baton", "raw"],
        [
          ...p.opsPerTask.map((x) => [x.what, f(x.baton, 1), f(x.raw, 1)]),
          ["**total**", `**${f(total("baton"), 1)}**`, `**${f(total("raw"), 1)}**`],
        ],
      ),
    );
    out.push("");
  }
  out.push("Off the critical path, right after each process hands the step on (Baton):");
  out.push("");
  out.push(rowsTable(p.baton.afterRows));
  out.push("");
  out.push("The whole Baton task, hop by hop:");
  out.push("");
  out.push(rowsTable(p.baton.taskRows, p.baton.taskMs));
  out.push("");
  const fo = p.fanout;
  if (fo.tasks > 0) {
    out.push(
      `One fan-out task (16 parallel steps → 1 dependent step; ${fo.tasks} tasks, median ${f(fo.latencyMs)} ms through the proxy): operations it ` +
        `caused by process (consumer info and pull requests are not attributed to tasks). Its state was written ${fo.casWrites} times by ` +
        `compare-and-set, ${fo.casConflicts} of them refused as stale (another result of the same task won) and retried.`,
    );
    out.push("");
    out.push(
      table(
        ["process", "operation", "count per task (median)"],
        fo.rows.map((x) => [x.where, x.what, f(x.count, 0)]),
      ),
    );
    out.push("");
  }
  if (p.validation.length > 0) {
    out.push(
      "Validation: JSON.parse + zod `safeParse` of the real messages of one task, timed in the bench process (warm), and the validations on " +
        "one step's critical path (each received message decoded, each KV value read or written, each publish encoded):",
    );
    out.push("");
    out.push(
      table(
        ["schema", "bytes", "µs JSON.parse + safeParse", "µs safeParse"],
        p.validation.map((v) => [v.schema, String(v.bytes), f(v.parseUs, 1), f(v.zodUs, 1)]),
      ),
    );
    out.push("");
    out.push(
      table(
        ["process", "validations on the step's path", "≈ ms"],
        p.validationPerStep.map((v) => [v.where, String(v.count), f(v.ms, 3)]),
      ),
    );
    out.push("");
  }
  if (p.cpu) {
    out.push(
      `CPU profile (V8 sampling profiler started by SIGUSR2 through a bench preload, bench/lib/cpu-prof-preload.ts) over ${p.cpu.tasks} sequential ` +
        "3-step tasks, self time per task by category; procfs CPU per task of the same window for comparison. Native socket writes are left out " +
        "of the busy time: the profiler charges them the time the writer waits after waking its peer on the shared cores.",
    );
    out.push("");
    const rows: string[][] = [];
    for (const prof of p.cpu.profiles) {
      const procfs = p.cpu.procfsPerTask[prof.role];
      rows.push([
        `**${prof.role}**`,
        `busy ${f(prof.busyMs / p.cpu.tasks)} ms/task${procfs !== undefined ? ` (procfs ${f(procfs)} ms)` : ""}`,
        "",
      ]);
      for (const c of prof.categories.filter((x) => x.name !== "idle" && !x.name.startsWith("profiler")).slice(0, 9)) {
        rows.push(["", c.name, f(c.ms / p.cpu.tasks, 3)]);
      }
    }
    if (p.cpu.procfsPerTask["nats-server"] !== undefined)
      rows.push(["**nats-server**", `procfs ${f(p.cpu.procfsPerTask["nats-server"])} ms/task`, ""]);
    out.push(table(["process", "category", "ms / task"], rows));
    out.push("");
    const fn: string[][] = [];
    for (const prof of p.cpu.profiles) {
      for (const x of prof.functions.slice(0, 6)) fn.push([prof.role, `\`${x.name}\``, f(x.ms / p.cpu.tasks, 3)]);
    }
    out.push(table(["process", "heaviest functions (self time)", "ms / task"], fn));
    out.push("");
  }
  return out.join("\n");
}
