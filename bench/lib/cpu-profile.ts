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
  /** The entry script (e.g. services/supervisor/src/main.ts). */
  readonly entry: string;
  /** Sampled time not idle and not spent loading modules at start-up. */
  readonly busyMs: number;
  readonly categories: { name: string; ms: number }[];
  /** Heaviest functions by self time (outside the idle/start-up buckets). */
  readonly functions: { name: string; ms: number }[];
}

/** Which bucket a frame's self time goes to. */
function categoryOf(fn: string, url: string): string {
  if (fn === "(idle)") return "idle";
  if (fn === "(garbage collector)") return "garbage collection";
  if (fn === "(program)") return "V8/native (program)";
  if (fn === "writeBuffer" || fn === "writeUtf8String" || fn === "writev" || fn === "writeLatin1String") return "socket/pipe writes (native)";
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
  return "Node.js runtime and built-ins";
}

/** Reads every `.cpuprofile` in `dir` and summarizes each by category. */
export function summarizeCpuProfiles(dir: string): CpuBreakdown[] {
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
      if (category !== "idle" && category !== "start-up (module loading)") {
        const name = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(/^.*\/work\/main\//, "")}:${frame.lineNumber + 1}`;
        functions.set(name, (functions.get(name) ?? 0) + us / 1_000);
      }
    }
    const urls = profile.nodes.map((n) => n.callFrame.url);
    const entry = (
      urls.find((u) => /services\/[^/]+\/src\/main\.ts$/.test(u)) ??
      urls.find((u) => /bench\/[^/]+\.ts$/.test(u)) ??
      urls.find((u) => u.endsWith("evaluate-expression.ts")) ??
      file
    ).replace(/^.*\/work\/main\//, "");
    const sorted = [...categories].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
    out.push({
      entry,
      busyMs: sorted.filter((c) => c.name !== "idle" && c.name !== "start-up (module loading)").reduce((a, c) => a + c.ms, 0),
      categories: sorted,
      functions: [...functions]
        .map(([name, ms]) => ({ name, ms }))
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 12),
    });
  }
  return out;
}
