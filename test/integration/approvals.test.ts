import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { type AgentReplica, type ApprovalRequest, KV_BUCKETS } from "@baton/contracts";
import { natsServerAvailable, openKv } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBaton } from "../support/cli.ts";
import { connectClient, type TestClient } from "../support/client.ts";
import { anthropicReply, type ScriptedLlmServer, startScriptedLlmServer } from "../support/scripted-llm-server.ts";
import { ROOT, type ServiceProcess, startService, startStack, type TestStack } from "../support/services.ts";

const MARKER_APPROVE = "LLM-PAUSE-APPROVE";
const MARKER_DENY = "LLM-PAUSE-DENY";

/** The scripted model of the tickets agent's LLM loop: it files a ticket, then says what happened. */
function ticketsModelRules(run: string) {
  const message = (content: unknown[], stop: "end_turn" | "tool_use") => ({ respond: anthropicReply(content, stop) });
  const fileTicket = (marker: string, title: string) => ({
    name: `tickets: file (${marker})`,
    when: { systemIncludes: "You are the tickets agent of Baton", anyMessageIncludes: marker, toolResultsCount: 0 },
    ...message(
      [
        {
          type: "tool_use",
          id: `toolu_${marker}`,
          name: "create_ticket",
          input: { title, body: "Filed by the LLM loop after approval", priority: "low", labels: [run] },
        },
      ],
      "tool_use",
    ),
  });
  return [
    fileTicket(MARKER_APPROVE, `LLM ticket ${run}`),
    fileTicket(MARKER_DENY, `LLM ticket denied ${run}`),
    {
      name: "tickets: denied",
      when: { systemIncludes: "You are the tickets agent of Baton", lastUserIncludes: "a person denied it", toolResultsCount: 1 },
      ...message([{ type: "text", text: "The ticket was not filed: a person denied it." }], "end_turn"),
    },
    {
      name: "tickets: filed",
      when: { systemIncludes: "You are the tickets agent of Baton", toolResultsCount: 1 },
      ...message([{ type: "text", text: "Filed the ticket." }], "end_turn"),
    },
  ];
}

// Human approval gates with real processes: the supervisor, synthesizer, data agent and the
// tickets agent (WORKER_CONCURRENCY=1, its LLM loop on the scripted Anthropic server), NATS with
// authentication, decisions made with the real `baton approvals` CLI under operator credentials.
describe.skipIf(!natsServerAvailable())("approval gates (real processes)", () => {
  const run = Date.now().toString(36);
  const dir = mkdtempSync(join(tmpdir(), "baton-approvals-"));
  const dbPath = join(dir, "tickets.db");
  let llm: ScriptedLlmServer;
  let stack: TestStack;
  let client: TestClient;
  let tickets: ServiceProcess;
  let ticketsEnv: Record<string, string>;
  let operatorCreds: string | undefined;
  let db: DatabaseSync;

  beforeAll(async () => {
    llm = await startScriptedLlmServer({ rules: ticketsModelRules(run) });
    stack = await startStack({ services: ["supervisor", "synthesizer", "data-agent"] });
    ticketsEnv = {
      ...stack.env,
      TICKETS_DB_PATH: dbPath,
      WORKER_CONCURRENCY: "1",
      ANTHROPIC_API_KEY: "test-key",
      ANTHROPIC_BASE_URL: llm.anthropicBaseURL,
    };
    tickets = await startService("tickets-agent", ticketsEnv);
    client = await connectClient(stack.nats.url);
    operatorCreds = await stack.credentials({ kind: "operator" });
    db = new DatabaseSync(dbPath, { readOnly: true });
  });
  afterAll(async () => {
    db?.close();
    await client?.close();
    await tickets?.stop();
    await stack?.stop();
    await llm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const baton = (...args: string[]) => runBaton(args, { natsUrl: stack.nats.url, creds: operatorCreds });
  const ticketsTitled = (title: string) => db.prepare("SELECT id, title FROM tickets WHERE title = ?").all(title);
  const requestsOf = async (taskId: string, n: number): Promise<ApprovalRequest[]> => {
    for (let i = 0; i < n; i++)
      await client.waitForApproval((r) => r.taskId === taskId && client.approvalRequests.filter((x) => x.taskId === taskId).length > i);
    return client.approvalRequests.filter((r) => r.taskId === taskId);
  };
  /** Steps the tickets agent's replicas say they run now (their heartbeats in baton_agent_replicas). */
  const ticketsInFlight = async () => {
    const kv = await openKv(client.nc, KV_BUCKETS.agentReplicas);
    let inFlight = 0;
    for await (const key of await kv.keys("tickets.>")) {
      const entry = await kv.get(key);
      if (entry?.operation === "PUT") inFlight += entry.json<AgentReplica>().inFlight;
    }
    return inFlight;
  };

  it("runs the tickets example end to end: each write waits, `baton approvals` lists, shows and approves it", async () => {
    const taskId = `approvals-example-${run}`;
    const example = JSON.parse(readFileSync(join(ROOT, "examples", "tickets", "file-tickets.json"), "utf8")) as Record<string, unknown>;
    const events = client.watch(taskId);
    await client.submit({ taskId, ...example });
    const requests = await requestsOf(taskId, 3);
    expect(requests.map((r) => r.stepId).sort()).toEqual(["file_1", "file_2", "file_3"]);
    for (const r of requests) {
      expect(r.calls).toHaveLength(1);
      expect(r.calls[0]).toMatchObject({ tool: "create_ticket", riskTier: "write" });
      expect(r.reason).toContain("create_ticket (write)");
    }

    // Waiting holds no worker: no step of the tickets agent is in flight while the approvals are open.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await ticketsInFlight()).toBe(0);

    const list = await baton("approvals", "list");
    expect(list.code).toBe(0);
    for (const r of requests) expect(list.stdout).toContain(r.approvalId);
    const shown = await baton("approvals", "show", requests[0]?.approvalId ?? "");
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("create_ticket [write]");
    expect(shown.stdout).toContain("Fuel economy review");
    expect(shown.stdout).toContain(`step      ${requests[0]?.stepId} (agent tickets)`);

    for (const r of requests) {
      const approved = await baton("approvals", "approve", r.approvalId, "--comment", "checked the query", "--as", "alice@example.com");
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.stdout).toContain("approved");
    }
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status).toBe("completed");
    if (outcome.status !== "completed") return;
    expect(outcome.value.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["find", "completed"],
      ["file_1", "completed"],
      ["file_2", "completed"],
      ["file_3", "completed"],
      ["open_tickets", "completed"],
    ]);
    const filed = db.prepare("SELECT title FROM tickets WHERE title LIKE 'Fuel economy review: %'").all();
    expect(filed).toHaveLength(3);
    expect(events.filter((e) => e.type === "step.awaiting_approval")).toHaveLength(3);
    const decided = events.filter((e) => e.type === "step.approval_decided");
    expect(decided).toHaveLength(3);
    expect(decided[0]).toMatchObject({ decision: "approve", approver: "alice@example.com", comment: "checked the query" });
    // A second decision on a closed approval is refused by the CLI.
    const again = await baton("approvals", "deny", requests[0]?.approvalId ?? "");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("approved already");

    // The audit ledger has the requests, the decisions (by whom) and the tool calls; the chain holds.
    let audit = await baton("--json", "audit", taskId);
    for (let i = 0; i < 40 && audit.stdout.split("\n").filter((l) => l.includes('"kind":"tool_call"')).length < 5; i++) {
      await new Promise((r) => setTimeout(r, 250));
      audit = await baton("--json", "audit", taskId);
    }
    const records = audit.stdout
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { record?: { kind: string; actor: string; details: Record<string, unknown> } })
      .flatMap((l) => (l.record ? [l.record] : []));
    const kinds = records.map((r) => r.kind);
    expect(kinds.filter((k) => k === "submission")).toHaveLength(1);
    expect(kinds.filter((k) => k === "approval_requested")).toHaveLength(3);
    expect(records.filter((r) => r.kind === "approval_decided").map((r) => r.actor)).toEqual([
      "alice@example.com",
      "alice@example.com",
      "alice@example.com",
    ]);
    expect(records.filter((r) => r.kind === "tool_call").map((r) => r.details?.["tool"])).toEqual(
      expect.arrayContaining(["sql_query", "create_ticket", "create_ticket", "create_ticket", "list_tickets"]),
    );
    const verify = await baton("audit", "verify");
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it("a denial fails the step with APPROVAL_DENIED, names who denied it, and writes nothing", async () => {
    const taskId = `approvals-deny-${run}`;
    const title = `Denied ticket ${run}`;
    await client.submit({
      taskId,
      goal: "File a ticket that a person will refuse",
      plan: { steps: [{ id: "file", agent: "tickets", instruction: "File it", toolCalls: [{ tool: "create_ticket", args: { title } }] }] },
    });
    const [request] = await requestsOf(taskId, 1);
    const denied = await baton("approvals", "deny", request?.approvalId ?? "", "--comment", "not in this sprint", "--as", "bob");
    expect(denied.code, denied.stderr).toBe(0);
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("file");
    expect(outcome.value.steps[0]?.error).toMatchObject({ code: "APPROVAL_DENIED", message: "denied by bob: not in this sprint" });
    expect(ticketsTitled(title)).toEqual([]);
  });

  it("a step waiting for approval holds no worker slot and survives SIGKILL of every service", async () => {
    const taskId = `approvals-restart-${run}`;
    const title = `Restart ticket ${run}`;
    await client.submit({
      taskId,
      goal: "File a ticket across restarts",
      plan: { steps: [{ id: "file", agent: "tickets", instruction: "File it", toolCalls: [{ tool: "create_ticket", args: { title } }] }] },
    });
    const [request] = await requestsOf(taskId, 1);
    // The only worker slot (WORKER_CONCURRENCY=1) is free: an ungated task runs to completion meanwhile.
    const other = `approvals-other-${run}`;
    await client.submit({
      taskId: other,
      goal: "List tickets while another task waits",
      plan: { steps: [{ id: "list", agent: "tickets", instruction: "List", toolCalls: [{ tool: "list_tickets", args: { limit: 5 } }] }] },
    });
    expect((await client.outcome(other, 30_000)).status).toBe("completed");

    // Every service dies and comes back; the approval is still open, and the decision resumes the step.
    const [supervisor, synthesizer] = [
      stack.services.find((s) => s.name === "supervisor"),
      stack.services.find((s) => s.name === "synthesizer"),
    ];
    await Promise.all([supervisor?.kill(), synthesizer?.kill(), tickets.kill()]);
    const restarted = await Promise.all([
      startService("supervisor", stack.env),
      startService("synthesizer", stack.env),
      startService("tickets-agent", ticketsEnv),
    ]);
    stack.services.splice(0, stack.services.length, ...restarted.slice(0, 2), ...stack.services.filter((s) => s.name === "data-agent"));
    tickets = restarted[2] as ServiceProcess;
    const pending = await baton("approvals", "list");
    expect(pending.stdout).toContain(request?.approvalId);
    const approved = await baton("approvals", "approve", request?.approvalId ?? "");
    expect(approved.code, approved.stderr).toBe(0);
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status).toBe("completed");
    expect(ticketsTitled(title)).toHaveLength(1);
  }, 120_000);

  it("an LLM loop pauses at a gated call (conversation saved, no worker held), resumes on approval and gets a denial as the tool's result", async () => {
    const approveTask = `approvals-llm-ok-${run}`;
    const denyTask = `approvals-llm-deny-${run}`;
    const llmStep = (marker: string) => ({
      steps: [{ id: "file", agent: "tickets", instruction: `${marker}: file a low-priority ticket about the flaky build` }],
    });
    await client.submit({ taskId: approveTask, goal: "File a ticket with the tickets agent's own model", plan: llmStep(MARKER_APPROVE) });
    await client.submit({ taskId: denyTask, goal: "File a ticket that will be refused", plan: llmStep(MARKER_DENY) });
    const [ok] = await requestsOf(approveTask, 1);
    const [no] = await requestsOf(denyTask, 1);
    expect(ok?.calls[0]).toMatchObject({ tool: "create_ticket", args: { title: `LLM ticket ${run}` } });
    // The paused conversations are saved under the agent's own prefix, and no step is in flight.
    const checkpoints = await openKv(client.nc, KV_BUCKETS.checkpoints);
    const saved: string[] = [];
    for await (const key of await checkpoints.keys(`tickets.${approveTask}.>`)) saved.push(key);
    expect(saved).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(await ticketsInFlight()).toBe(0);

    await client.decide(ok?.approvalId ?? "", "approve", { approver: "carol" });
    await client.decide(no?.approvalId ?? "", "deny", { approver: "carol", comment: "duplicate" });
    const [approved, denied] = await Promise.all([client.outcome(approveTask, 60_000), client.outcome(denyTask, 60_000)]);
    expect(llm.unmatched.map((r) => r.summary)).toEqual([]);
    expect(approved.status).toBe("completed");
    expect(denied.status).toBe("completed");
    if (approved.status !== "completed" || denied.status !== "completed") return;
    expect(approved.value.steps[0]?.toolCalls.map((c) => [c.tool, c.ok])).toEqual([["create_ticket", true]]);
    expect(approved.value.steps[0]?.output).toMatchObject({ answer: "Filed the ticket." });
    expect(ticketsTitled(`LLM ticket ${run}`)).toHaveLength(1);
    const deniedCall = denied.value.steps[0]?.toolCalls[0];
    expect(deniedCall).toMatchObject({ tool: "create_ticket", ok: false, error: { code: "APPROVAL_DENIED" } });
    expect(denied.value.steps[0]?.output).toMatchObject({ answer: "The ticket was not filed: a person denied it." });
    expect(ticketsTitled(`LLM ticket denied ${run}`)).toEqual([]);
    // The model saw the denial with who made it.
    const afterDenial = llm.requests.find((r) => r.rule === "tickets: denied");
    expect(afterDenial?.summary.lastUser).toContain("carol");
    // The used checkpoint is deleted after the resumed step ends.
    const left: string[] = [];
    for await (const key of await checkpoints.keys(`tickets.${approveTask}.>`)) left.push(key);
    expect(left).toEqual([]);
  }, 120_000);

  it("no decision within APPROVAL_TIMEOUT_MS is a denial; time spent waiting does not count against the task's deadline", async () => {
    // The supervisor again, now with a 2 s approval timeout.
    const supervisor = stack.services.find((s) => s.name === "supervisor");
    await supervisor?.stop();
    const fast = await startService("supervisor", { ...stack.env, APPROVAL_TIMEOUT_MS: "2000" });
    stack.services.splice(stack.services.indexOf(supervisor as ServiceProcess), 1, fast);
    const taskId = `approvals-timeout-${run}`;
    const title = `Timed out ticket ${run}`;
    const submittedAt = Date.now();
    await client.submit({
      taskId,
      goal: "File a ticket nobody decides on",
      // A 1.5 s task deadline: shorter than the approval timeout, yet the task ends by the approval's expiry.
      timeoutMs: 1_500,
      plan: { steps: [{ id: "file", agent: "tickets", instruction: "File it", toolCalls: [{ tool: "create_ticket", args: { title } }] }] },
    });
    const outcome = await client.outcome(taskId, 30_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.steps[0]?.error?.code).toBe("APPROVAL_DENIED");
    expect(outcome.value.steps[0]?.error?.message).toContain("counted as a denial");
    expect(Date.now() - submittedAt).toBeGreaterThanOrEqual(2_000);
    expect(ticketsTitled(title)).toEqual([]);
    const shown = await baton("approvals", "list", "--all");
    expect(shown.stdout).toMatch(/expired by baton:approval-timeout/);
  });
});
