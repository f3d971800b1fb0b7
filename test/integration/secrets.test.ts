import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { APPROVALS_STREAM, AUDIT_STREAM, EVENTS_STREAM, KV_BUCKETS, STREAMS } from "@baton/contracts";
import { readStream } from "@baton/audit";
import { natsServerAvailable } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { type ReceivedSpan, startOtlpReceiver } from "../support/otlp-receiver.ts";
import { anthropicReply, type ScriptedLlmServer, startScriptedLlmServer } from "../support/scripted-llm-server.ts";
import { type ServiceProcess, startService, startStack, type TestStack } from "../support/services.ts";

const DATABASE = process.env.TICKETS_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";

// Canary secrets, planted where a deployment keeps its secrets: the LLM API key of every service
// (which the scripted provider even echoes back in an error), the database password of the
// tickets agent, the NKey seeds in every service's NATS credentials, and a bearer token a plan
// passes in a tool argument. After tasks that succeed, wait for approval, fail at the provider and
// are rejected, everything the deployment wrote — every service's log lines, every span exported,
// every message of every stream and KV bucket (events, outcomes, approvals, audit ledger,
// results, task states), the nats-server log — is scanned for them.
describe.skipIf(!natsServerAvailable())("secrets stay out of logs, events, spans, the audit ledger and errors", () => {
  const run = Date.now().toString(36);
  const apiKey = `sk-ant-api03-canary${randomBytes(24).toString("hex")}`;
  const dbPassword = `canarypw${randomBytes(12).toString("hex")}`;
  const argToken = `canarytok${randomBytes(16).toString("hex")}`;
  let llm: ScriptedLlmServer;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let stack: TestStack;
  let tickets: ServiceProcess;
  let client: TestClient;
  const seeds: string[] = [];

  beforeAll(async () => {
    const message = (content: unknown[], stop: "end_turn" | "tool_use") =>
      anthropicReply(content, stop, { input_tokens: 100, output_tokens: 20 });
    llm = await startScriptedLlmServer({
      rules: [
        {
          name: "synthesizer",
          when: { systemIncludes: "You are the synthesizer of Baton" },
          respond: message([{ type: "text", text: "Done." }], "end_turn"),
        },
        {
          // A provider that echoes the caller's key in its error: the worker must not pass it on.
          name: "provider refuses the key",
          when: { anyMessageIncludes: "SECRETS-PROVIDER-ERROR" },
          respond: {
            status: 401,
            headers: { "x-should-retry": "false" },
            body: { type: "error", error: { type: "authentication_error", message: `invalid x-api-key: ${apiKey}` } },
          },
        },
        {
          name: "tickets: file",
          when: { systemIncludes: "You are the tickets agent of Baton", anyMessageIncludes: "SECRETS-FILE", toolResultsCount: 0 },
          respond: message(
            [{ type: "tool_use", id: "toolu_s1", name: "create_ticket", input: { title: `Secret scan ${run}`, body: "from the loop" } }],
            "tool_use",
          ),
        },
        {
          name: "tickets: done",
          when: { systemIncludes: "You are the tickets agent of Baton", toolResultsCount: 1 },
          respond: message([{ type: "text", text: "Filed." }], "end_turn"),
        },
      ],
    });
    receiver = await startOtlpReceiver();
    const llmEnv = { ANTHROPIC_API_KEY: apiKey, ANTHROPIC_BASE_URL: llm.anthropicBaseURL };
    stack = await startStack({
      services: ["supervisor", "synthesizer", "data-agent"],
      env: { ...llmEnv, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, LOG_LEVEL: "debug" },
    });
    const dbUrl = new URL(DATABASE);
    dbUrl.password = dbPassword; // trust authentication: any password connects, so the canary is really used
    tickets = await startService("tickets-agent", {
      ...stack.env,
      DATABASE_URL: dbUrl.toString(),
      TICKETS_DB_SCHEMA: `secrets_${run.replaceAll(/[^a-z0-9]/g, "")}`,
      AUDIT_INCLUDE_ARGS: "true",
    });
    client = await connectClient(stack.nats.url);
    client.approveAll(() => true, "secrets-test");
    for (const role of [
      { kind: "supervisor" },
      { kind: "synthesizer" },
      { kind: "agent", agent: "data" },
      { kind: "agent", agent: "tickets" },
      { kind: "operator" },
    ] as const) {
      const file = await stack.credentials(role);
      const seed = file ? /\b(SU[A-Z2-7]{56})\b/.exec(readFileSync(file, "utf8"))?.[1] : undefined;
      if (seed) seeds.push(seed);
    }
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await tickets?.stop();
    await stack?.stop();
    await receiver?.close();
    await llm?.close();
  });

  it("runs tasks that use every secret, then finds none of them anywhere", async () => {
    expect(seeds).toHaveLength(5);
    const ok = `secrets-ok-${run}`;
    const failing = `secrets-provider-${run}`;
    const withToken = `secrets-arg-${run}`;
    await client.submit({
      taskId: ok,
      goal: "File a ticket",
      plan: { steps: [{ id: "file", agent: "tickets", instruction: "SECRETS-FILE: file one ticket" }] },
    });
    await client.submit({
      taskId: failing,
      goal: "Hit the provider",
      plan: { steps: [{ id: "ask", agent: "tickets", instruction: "SECRETS-PROVIDER-ERROR" }] },
    });
    await client.submit({
      taskId: withToken,
      goal: "File a ticket whose arguments carry a credential",
      plan: {
        steps: [
          {
            id: "file",
            agent: "tickets",
            instruction: "File it",
            toolCalls: [
              {
                tool: "create_ticket",
                args: { title: `Token ${run}`, body: `curl -H 'Authorization: Bearer ${argToken}' https://ci.example.com` },
              },
            ],
          },
        ],
      },
    });
    await client.submitRaw(JSON.stringify({ goal: "rejected", apiKey, plan: { steps: [] } }));
    const outcomes = await Promise.all([client.outcome(ok, 60_000), client.outcome(failing, 60_000), client.outcome(withToken, 60_000)]);
    expect(outcomes.map((o) => o.status)).toEqual(["completed", "failed", "completed"]);
    const providerError = outcomes[1]?.status === "failed" ? outcomes[1].value.steps[0]?.error : undefined;
    expect(providerError?.code).toBe("LLM_FAILED");
    // The provider's error message reached the step, without the key it echoed.
    expect(providerError?.message).toContain("invalid x-api-key");
    await client.waitForRejection((r) => r.error.code === "VALIDATION_FAILED");

    // Let the audit chainer catch up, then stop every service gracefully so its spans are flushed.
    await new Promise((r) => setTimeout(r, 1_500));
    const everything: { where: string; text: string }[] = [];
    const userVisible = new Set<string>([EVENTS_STREAM.name, AUDIT_STREAM.name, APPROVALS_STREAM.name]);
    for (const name of [...STREAMS.map((s) => s.name), ...Object.values(KV_BUCKETS).map((b) => `KV_${b.name}`)]) {
      for await (const m of readStream(client.js, name)) {
        everything.push({
          where: `${name} #${m.seq} (${m.subject})`,
          text: `${m.headers ? JSON.stringify([...m.headers]) : ""}${m.string()}`,
        });
      }
      if (userVisible.has(name))
        expect(
          everything.some((e) => e.where.startsWith(name)),
          `${name} has messages`,
        ).toBe(true);
    }
    await tickets.stop();
    await Promise.all(stack.services.map((s) => s.stop()));
    for (const s of [...stack.services, tickets]) {
      everything.push({ where: `${s.name} log`, text: s.logs.map((l) => JSON.stringify(l)).join("\n") + s.stderr.join("\n") });
    }
    const spans: ReceivedSpan[] = receiver.spans;
    expect(spans.length).toBeGreaterThan(0);
    everything.push({ where: "spans", text: JSON.stringify(spans) });
    if (stack.authDir)
      everything.push({ where: "nats-server log", text: readFileSync(`${stack.nats.storeDir}/../nats-server.log`, "utf8") });

    const configSecrets = [apiKey, dbPassword, ...seeds];
    const leaks = everything.flatMap((e) => configSecrets.filter((s) => e.text.includes(s)).map((s) => `${e.where}: ${s.slice(0, 12)}…`));
    expect(leaks).toEqual([]);
    // A credential in a tool argument is the task's data (work, results and state carry it), but
    // logs, events, spans, approval requests and the audit ledger show it redacted.
    const shown = everything.filter(
      (e) => !/^(BATON_WORK|BATON_RESULTS|BATON_SYNTHESIS|BATON_OUTCOMES|KV_baton_tasks|KV_baton_effects) /.test(e.where),
    );
    expect(shown.filter((e) => e.text.includes(argToken)).map((e) => e.where)).toEqual([]);
    const audited = everything.filter((e) => e.where.startsWith(AUDIT_STREAM.name) && e.text.includes(`Token ${run}`));
    expect(audited.length).toBeGreaterThan(0);
    expect(audited.some((e) => e.text.includes("[REDACTED]"))).toBe(true);
  }, 180_000);
});
