import { BatonDriver } from "../lib/drivers.ts";
import { summarize, type LatencySummary } from "../lib/histogram.ts";
import { type LoadConfig, measurePatterns, type PatternResults } from "../lib/load.ts";
import { cpuProbe, serviceRoles } from "../lib/procfs.ts";
import { codeAgent, type OtlpSink, startBatonStack, startOtlpSink, SUPERVISOR, SYNTHESIZER } from "../lib/stack.ts";

/** Baton's pattern figures plus what the run observed about itself. */
export interface BatonResults extends PatternResults {
  readonly tracing: boolean;
  /** Duration of the zero-latency tool call as the worker reported it (all measured tasks of the latency runs). */
  readonly tool: LatencySummary;
  /** CPU ms per process while the stack settled after start. */
  readonly settleCpu: Record<string, number>;
  /** What the OTLP sink received (tracing on only). */
  readonly export?: { requests: number; spans: number; bytes: number };
}

/**
 * Scenarios `baton` and `baton-traced`: a private nats-server, the supervisor, the code agent
 * and the synthesizer as child processes (the explicit plans only use the code agent), no LLM.
 * With `tracing`, every service exports spans over OTLP/HTTP to a sink in this process.
 */
export async function runBatonScenario(config: LoadConfig, tracing: boolean, log: (line: string) => void): Promise<BatonResults> {
  let sink: OtlpSink | undefined;
  const env: Record<string, string> = {};
  if (tracing) {
    sink = await startOtlpSink();
    env.OTEL_EXPORTER_OTLP_ENDPOINT = sink.url;
  }
  const stack = await startBatonStack(
    tracing ? "baton-traced" : "baton",
    [{ spec: SUPERVISOR }, { spec: codeAgent() }, { spec: SYNTHESIZER }],
    env,
  );
  const driver = await BatonDriver.connect(stack.url, tracing ? "bt" : "b");
  try {
    const probe = cpuProbe([
      { role: "nats-server", pid: stack.nats.server.process.pid, withChildren: false },
      ...serviceRoles(stack.processes),
      { role: tracing ? "bench (client + OTLP sink)" : "bench (client)", pid: process.pid, withChildren: false },
    ]);
    log(
      `  processes quiet ${(stack.settledMs / 1_000).toFixed(1)} s after start (CPU meanwhile: ${Object.entries(stack.settleCpu)
        .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
        .join(", ")})`,
    );
    const results = {
      ...(await measurePatterns(driver, config, log, probe)),
      settledMs: stack.settledMs,
      settleCpu: stack.settleCpu,
    };
    await new Promise((r) => setTimeout(r, tracing ? 1_500 : 0)); // the batch span processors flush every 500 ms
    return {
      ...results,
      tracing,
      tool: summarize(driver.toolMs),
      ...(sink ? { export: { ...sink.stats } } : {}),
    };
  } finally {
    await driver.close();
    await stack.stop();
    await sink?.close();
  }
}
