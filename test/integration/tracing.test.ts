import { randomBytes } from "node:crypto";
import { subjects } from "@baton/contracts";
import { headers } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, examplePlan, type TestClient } from "../support/client.ts";
import { type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.ts";
import { startStack, type TestStack } from "../support/services.ts";

const PRODUCER = 4;
const CONSUMER = 5;

// All five services export OTLP/HTTP to a real local receiver; one task must form one trace.
describe("one trace per task across every process", () => {
  let stack: TestStack;
  let client: TestClient;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    stack = await startStack({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    await receiver?.close();
  });

  it("links submit → supervisor → work → tools → results → synthesizer → outcome in one trace", async () => {
    const traceId = randomBytes(16).toString("hex");
    const clientSpanId = randomBytes(8).toString("hex");
    const taskId = `traced-${Date.now()}`;
    const outcomeP = client.outcome(taskId);
    const h = headers();
    h.set("traceparent", `00-${traceId}-${clientSpanId}-01`); // as a traced client would send it
    await client.js.publish(subjects.submit, JSON.stringify({ taskId, ...examplePlan() }), { headers: h });
    expect((await outcomeP).status).toBe("completed");

    let spans: ReceivedSpan[] = [];
    const services = ["supervisor", "research-agent", "code-agent", "data-agent", "synthesizer"];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      spans = receiver.spans.filter((s) => s.traceId === traceId);
      const seen = new Set(spans.map((s) => s.service));
      if (services.every((s) => seen.has(s)) && spans.some((s) => s.name === "send tasks.completed.{taskId}")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(new Set(spans.map((s) => s.service))).toEqual(new Set(services));
    // Every span's parent is in the trace, except the submit span whose parent is the client's.
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    for (const s of spans) {
      if (s.parentSpanId === clientSpanId) continue;
      expect(byId.has(s.parentSpanId), `${s.service} ${s.name} has a parent in the trace`).toBe(true);
    }
    const parentOf = (s: ReceivedSpan) => byId.get(s.parentSpanId);
    const submit = spans.find((s) => s.name === "process tasks.submit");
    expect(submit?.service).toBe("supervisor");
    expect(submit?.kind).toBe(CONSUMER);
    expect(submit?.parentSpanId).toBe(clientSpanId);
    expect(submit?.attributes["messaging.system"]).toBe("nats");
    expect(submit?.attributes["messaging.destination.name"]).toBe("tasks.submit");
    expect(submit?.attributes["messaging.consumer.group.name"]).toBe("supervisor-submissions");

    // Work: consumed by each agent under the supervisor's producer span.
    for (const agent of ["research", "code", "data"]) {
      const consumed = spans.filter((s) => s.name === `process work.${agent}.{taskId}.{stepId}`);
      expect(consumed.length, agent).toBeGreaterThan(0);
      for (const c of consumed) {
        expect(c.kind).toBe(CONSUMER);
        expect(parentOf(c)?.service).toBe("supervisor");
        expect(parentOf(c)?.kind).toBe(PRODUCER);
        // One span per tool call, a child of the step's span.
        const tools = spans.filter((t) => t.parentSpanId === c.spanId && t.name.startsWith("execute_tool "));
        expect(tools).toHaveLength(1);
        expect(tools[0]?.attributes["gen_ai.operation.name"]).toBe("execute_tool");
      }
    }
    // Results: consumed by the supervisor under a worker's producer span.
    const results = spans.filter((s) => s.name === "process results.{agent}.{taskId}.{stepId}");
    expect(results).toHaveLength(6);
    for (const r of results) expect(parentOf(r)?.service).toMatch(/-agent$/);
    // Synthesis: requested by the supervisor, consumed by the synthesizer, which sends the outcome.
    const synth = spans.find((s) => s.name === "process synthesis.{taskId}");
    expect(parentOf(synth as ReceivedSpan)?.service).toBe("supervisor");
    const outcome = spans.find((s) => s.name === "send tasks.completed.{taskId}");
    expect(outcome?.service).toBe("synthesizer");
    expect(outcome?.kind).toBe(PRODUCER);

    // Logs carry the same trace id.
    const worker = stack.services.find((s) => s.name === "data-agent");
    const line = worker?.logs.find((l) => l.msg === "step started" && l.taskId === taskId);
    expect(line?.trace_id).toBe(traceId);
    expect(line?.stepId).toBeTypeOf("string");
  });
});
