import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

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

/**
 * CPU ms of each role: `processes` maps a role (e.g. "supervisor") to its pids; children are added
 * to their parent's role unless `withChildren` is false (the bench process, whose children are the stack).
 */
export function cpuProbe(processes: readonly { role: string; pid: number | undefined; withChildren?: boolean }[]): CpuProbe {
  return () => {
    const out = new Map<string, number>();
    for (const { role, pid, withChildren = true } of processes) {
      if (pid === undefined) continue;
      const own = cpuMs(pid);
      const kids = withChildren ? childrenOf(pid).reduce((a, k) => a + (cpuMs(k) || 0), 0) : 0;
      out.set(role, (out.get(role) ?? 0) + own + kids);
    }
    return out;
  };
}

/**
 * Probe entries for service processes: role = label without the replica number; a service's
 * child processes (the code agent's expression evaluator) get their own role.
 */
export function serviceRoles(
  processes: readonly { label: string; child: { pid?: number | undefined } }[],
): { role: string; pid: number | undefined; withChildren: boolean }[] {
  return processes.flatMap((p) => {
    const role = p.label.replace(/-\d+$/, "");
    const kids = p.child.pid === undefined ? [] : childrenOf(p.child.pid);
    return [
      { role, pid: p.child.pid, withChildren: false },
      ...kids.map((pid) => ({ role: `${role} evaluator (child process)`, pid, withChildren: true })),
    ];
  });
}

/** Per-role CPU ms between two snapshots, divided by `tasks`. */
export function cpuPerTask(before: Map<string, number>, after: Map<string, number>, tasks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [role, value] of after) out[role] = (value - (before.get(role) ?? 0)) / Math.max(1, tasks);
  return out;
}

/** A snapshot of the whole machine's busy CPU and of this bench's process tree (itself and every descendant). */
export interface LoadSnapshot {
  readonly at: number;
  /** Busy CPU of every core since boot (/proc/stat: all but idle and iowait, steal included), ms. */
  readonly machineBusyMs: number;
  /** CPU of this process and every descendant it ever had (see {@link trackTree}), ms. */
  readonly treeMs: number;
}

function statFields(pid: string): string[] | undefined {
  try {
    return (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
  } catch {
    return undefined;
  }
}

/** Own CPU (utime + stime, ticks) of every process that has been in this bench's tree, as last seen. */
const treeTicks = new Map<number, number>();

/**
 * Adds the current descendants of this process to {@link treeTicks}. Orphans stay counted: a
 * service's child that outlives it (reparented to init) must not look like someone else's load.
 */
function scanTree(): void {
  const parents = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const f = statFields(entry);
    if (!f) continue;
    parents.set(Number(entry), Number(f[1]));
    ticks.set(Number(entry), Number(f[11]) + Number(f[12]));
  }
  const tree = new Set<number>([process.pid, ...treeTicks.keys()].filter((pid) => ticks.has(pid)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  for (const pid of tree) treeTicks.set(pid, Math.max(treeTicks.get(pid) ?? 0, ticks.get(pid) ?? 0));
}

let tracker: NodeJS.Timeout | undefined;
/** Starts scanning this bench's process tree every 250 ms (idempotent; the timer does not keep the process alive). */
export function trackTree(): void {
  tracker ??= setInterval(scanTree, 250).unref();
}

export function loadSnapshot(): LoadSnapshot {
  trackTree();
  scanTree();
  const cpuLine = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpuLine;
  const machineBusyMs = ((user + nice + system + irq + softirq + steal) * 1_000) / USER_HZ;
  let ticks = 0;
  for (const t of treeTicks.values()) ticks += t;
  return { at: performance.now(), machineBusyMs, treeMs: (ticks * 1_000) / USER_HZ };
}

/** Share of the machine's cores (0..1) busy with processes outside this bench between two snapshots. */
export function foreignLoad(before: LoadSnapshot, after: LoadSnapshot): number {
  const wall = after.at - before.at;
  if (wall <= 0) return 0;
  const foreign = after.machineBusyMs - before.machineBusyMs - (after.treeMs - before.treeMs);
  return Math.max(0, foreign / (wall * cpus().length));
}
