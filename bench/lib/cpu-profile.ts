import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The parts of a V8 `.cpuprofile` (written by `node --cpu-prof`) this reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time of one process's profile, grouped into categories, in ms. */
export interface CpuBreakdown {
  /** The process's role (e.g. "supervisor", "code-agent evaluator"). */
  readonly role: string;
  /** Sampled time outside {@link NOT_BUSY}. */
  readonly busyMs: number;
  readonly categories: { name: string; ms: number }[];
  /** Heaviest functions by self time (outside {@link NOT_BUSY}). */
  readonly functions: { name: string; ms: number }[];
}

/** Which bucket a frame's self time goes to. */
function categoryOf(fn: string, url: string): string {
  if (fn === "(idle)") return "idle";
  if (fn === "(garbage collector)") return "garbage collection";
  if (fn === "(program)") return "V8/native (program)";
  if (url === "node:inspector") return "profiler overhead (inspector)";
  if (fn === "writeBuffer" || fn === "writeUtf8String" || fn === "writev" || fn === "writeLatin1String")
    return "socket/pipe writes (native; mostly waiting after waking the peer)";
  if (fn === "structuredClone") return "structuredClone (task state copy)";
  if (fn === "RequestError" || fn === "TimeoutError" || fn === "captureLargerStackTrace")
    return "nats.js request: async stack capture (new RequestError/TimeoutError per request)";
  if (
    url.includes("/internal/modules/") ||
    url.startsWith("node:internal/modules") ||
    fn === "compileSourceTextModule" ||
    fn === "wrapSafe" ||
    fn === "internalModuleStat" ||
    fn === "readFileUtf8" ||
    fn === "compileFunction" ||
    url.includes("package_json_reader")
  )
    return "start-up (module loading)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) {
    if (pkg === "zod") return "zod (validation)";
    if (pkg.startsWith("@nats-io/")) return "nats.js (client, JetStream, KV)";
    if (pkg.startsWith("@opentelemetry/")) return "OpenTelemetry";
    if (pkg === "pino" || pkg === "sonic-boom" || pkg.includes("redact") || pkg === "thread-stream") return "pino (logging)";
    if (pkg === "mathjs" || pkg === "typed-function" || pkg === "decimal.js" || pkg === "fraction.js" || pkg === "complex.js")
      return "mathjs (the tool)";
    return `other package: ${pkg}`;
  }
  if (url.includes("/work/") && /\/(packages|services|contracts|bench)\//.test(url)) return "Baton code";
  if (fn === "parse" || fn === "stringify") return "JSON parse/stringify";
  const internal = /^node:(?:internal\/)?([a-z_]+)/.exec(url)?.[1];
  if (internal) return `Node.js built-in: ${internal}`;
  return "Node.js runtime (native)";
}

/** Reads `<pid>.cpuprofile` files in `dir` (see cpu-prof-preload.ts) and summarizes each by category; `roles` names the pids. */
export function summarizeCpuProfiles(dir: string, roles: ReadonlyMap<number, string>): CpuBreakdown[] {
  const out: CpuBreakdown[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const selfUs = new Map<number, number>();
    profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const categories = new Map<string, number>();
    const functions = new Map<string, number>();
    for (const [id, us] of selfUs) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) continue;
      const category = categoryOf(frame.functionName, frame.url);
      categories.set(category, (categories.get(category) ?? 0) + us / 1_000);
      if (!NOT_BUSY.has(category)) {
        const where = frame.url.replace(/^.*node_modules\//, "").replace(/^.*\/work\/main\//, "");
        const name = `${frame.functionName || "(anonymous)"}${where ? ` ${where}:${frame.lineNumber + 1}` : ""}`;
        functions.set(name, (functions.get(name) ?? 0) + us / 1_000);
      }
    }
    const sorted = [...categories].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
    out.push({
      role: roles.get(Number(file.split(".")[0])) ?? file,
      busyMs: sorted.filter((c) => !NOT_BUSY.has(c.name)).reduce((a, c) => a + c.ms, 0),
      categories: sorted,
      functions: [...functions]
        .map(([name, ms]) => ({ name, ms }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 10),
    });
  }
  return out.sort((a, b) => a.role.localeCompare(b.role));
}

/**
 * Sampled buckets that are not this process's own CPU work: idle, and native socket/pipe writes —
 * on this 2-core machine a write wakes the peer process, which often preempts the writer, and the
 * profiler charges that wait to `writeBuffer` (procfs CPU per task confirms it is not CPU).
 */
export const NOT_BUSY = new Set([
  "idle",
  "socket/pipe writes (native; mostly waiting after waking the peer)",
  "profiler overhead (inspector)",
]);
