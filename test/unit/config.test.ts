import { BaseServiceEnv, ConfigError, loadConfig } from "@baton/core";
import { WorkerEnv } from "@baton/agent";
import { describe, expect, it } from "vitest";

describe("service configuration", () => {
  it("applies defaults with units in the names", () => {
    const env = loadConfig(WorkerEnv, {});
    expect(env.NATS_URL).toBe("nats://127.0.0.1:4222");
    expect(env.STEP_TIMEOUT_MS).toBe(60_000);
    expect(env.WORKER_CONCURRENCY).toBe(4);
    expect(env.LOG_PRETTY).toBe(false);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig(BaseServiceEnv, { LOG_LEVEL: "" }).LOG_LEVEL).toBe("info");
  });

  it("names every bad variable and its value", () => {
    let error: unknown;
    try {
      loadConfig(WorkerEnv, { WORKER_CONCURRENCY: "-3", LOG_LEVEL: "loud", OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('WORKER_CONCURRENCY="-3"');
    expect(message).toContain('LOG_LEVEL="loud"');
    expect(message).toContain("OTEL_EXPORTER_OTLP_ENDPOINT");
  });
});
