import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used so far, in ms; NaN when it is gone. */
export function cpuMs(pid: number): number {
  try {
    const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1_000) / USER_HZ;
  } catch {
    return Number.NaN;
  }
}

/** Direct children of a process (e.g. the code agent's expression evaluator). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A snapshot function over named processes (and their children, summed into the parent's role). */
export type CpuProbe = () => Map<string, number>;

/** CPU ms of each role: `processes` maps a role (e.g. "supervisor") to its pids; children are added to their parent's role. */
export function cpuProbe(processes: readonly { role: string; pid: number | undefined }[]): CpuProbe {
  return () => {
    const out = new Map<string, number>();
    for (const { role, pid } of processes) {
      if (pid === undefined) continue;
      const own = cpuMs(pid);
      const kids = childrenOf(pid).reduce((a, k) => a + (cpuMs(k) || 0), 0);
      out.set(role, (out.get(role) ?? 0) + own + kids);
    }
    return out;
  };
}

/** Per-role CPU ms between two snapshots, divided by `tasks`. */
export function cpuPerTask(before: Map<string, number>, after: Map<string, number>, tasks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, value] of after) out[role] = (value - (before.get(role) ?? 0)) / Math.max(1, tasks);
  return out;
}
