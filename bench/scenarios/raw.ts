import { RawDriver } from "../lib/drivers.ts";
import { type LoadConfig, measurePatterns, type PatternResults } from "../lib/load.ts";
import { startRawStack } from "../raw/stack.ts";

/**
 * Scenario `raw`: the baseline. Raw nats.js supervisor and worker processes (bench/raw/) on
 * their own nats-server; the same task shapes, warm-up, runs and load as the Baton scenarios.
 */
export async function runRawScenario(config: LoadConfig, log: (line: string) => void): Promise<PatternResults> {
  const stack = await startRawStack();
  const driver = await RawDriver.connect(stack.nats.url);
  try {
    return await measurePatterns(driver, config, log);
  } finally {
    await driver.close();
    await stack.stop();
  }
}
