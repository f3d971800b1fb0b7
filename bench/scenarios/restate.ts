import { type LoadConfig, measurePatterns, type PatternResults } from "../lib/load.ts";
import { cpuProbe } from "../lib/procfs.ts";
import { RestateDriver } from "../restate/driver.ts";
import { installRestate } from "../restate/install.ts";
import { ENTRY_SERVICE, type RestateShape, startRestateStack } from "../restate/stack.ts";

export type { RestateShape } from "../restate/stack.ts";

/** Restate's pattern figures (same load, warm-up, runs and medians as raw and Baton). */
export interface RestateResults extends PatternResults {
  readonly shape: RestateShape;
  readonly serverVersion: string;
  readonly sdkVersion: string;
}

/** A Restate scenario that could not run (install failed, e.g. offline; the server did not start; a call failed): no figures. */
export interface RestateNotRun {
  readonly shape: RestateShape;
  readonly notRun: string;
}

export type RestateOutcome = RestateResults | RestateNotRun;

export function restateRan(r: RestateOutcome | undefined): r is RestateResults {
  return r !== undefined && !("notRun" in r);
}

/**
 * Scenarios `restate-services` and `restate-journal`: Restate as a peer. A private restate-server
 * and the bench's services (bench/restate/) as child processes; the bench client submits each task
 * as one request-response call to the HTTP ingress. `services`: an orchestrator service calls a
 * worker service in another Node process for every step; `journal`: every step is a journaled
 * `ctx.run` in one handler. Restate is installed on first use (bench/restate/install.ts); when
 * anything fails the scenario returns the reason instead of figures.
 */
export async function runRestateScenario(config: LoadConfig, shape: RestateShape, log: (line: string) => void): Promise<RestateOutcome> {
  try {
    const install = await installRestate(log);
    log(`  restate-server ${install.serverVersion}, @restatedev/restate-sdk ${install.sdkVersion} (bench/.peers/restate/)`);
    const stack = await startRestateStack(install, shape);
    const driver = new RestateDriver(stack.server.ingressUrl, ENTRY_SERVICE[shape]);
    try {
      const probe = cpuProbe([
        { role: "restate-server", pid: stack.server.child.pid, withChildren: false },
        ...stack.services.map((p) => ({ role: p.label, pid: p.child.pid })),
        { role: "bench (client)", pid: process.pid, withChildren: false },
      ]);
      log(`  processes quiet ${(stack.settledMs / 1_000).toFixed(1)} s after start`);
      const figures = await measurePatterns(driver, config, log, probe);
      return { ...figures, settledMs: stack.settledMs, shape, serverVersion: install.serverVersion, sdkVersion: install.sdkVersion };
    } finally {
      await driver.close();
      await stack.stop();
    }
  } catch (error) {
    const reason = (error as Error).message.split("\n")[0] ?? String(error);
    log(`  Restate: not run — ${reason}`);
    const detail = (error as Error).message.split("\n").slice(1).join("\n");
    if (detail) log(detail.replace(/^/gm, "    "));
    return { shape, notRun: reason };
  }
}
