import { RawDriver } from "../lib/drivers.ts";
import { type LoadConfig, measurePatterns, type PatternResults } from "../lib/load.ts";
import { cpuProbe } from "../lib/procfs.ts";
import { startRawStack } from "../raw/stack.ts";

/**
 * Scenario `raw`: the baseline. Raw nats.js supervisor and worker processes (bench/raw/) on
 * their own nats-server; the same task shapes, warm-up, runs and load as the Baton scenarios.
 */
export async function runRawScenario(config: LoadConfig, log: (line: string) => void): Promise<PatternResults> {
  const stack = await startRawStack();
  const driver = await RawDriver.connect(stack.nats.url);
  try {
    const probe = cpuProbe([
      { role: "nats-server", pid: stack.nats.server.process.pid, withChildren: false },
      ...stack.processes.map((p) => ({ role: p.label, pid: p.child.pid })),
      { role: "bench (client)", pid: process.pid, withChildren: false },
    ]);
    log(`  processes quiet ${(stack.settledMs / 1_000).toFixed(1)} s after start`);
    return { ...(await measurePatterns(driver, config, log, probe)), settledMs: stack.settledMs };
  } finally {
    await driver.close();
    await stack.stop();
  }
}
