import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { effectId } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { type ServiceProcess, startService, startStack, type TestStack } from "../support/services.ts";

// The tickets agent as real processes beside the built-in ones: tickets filed from what the data
// agent finds, a worker SIGKILLed mid-write whose step is repeated safely by another replica, the
// saga undoing tickets after a later failure, and notify calling a real local webhook.
describe("tickets agent (real processes)", () => {
  const run = Date.now().toString(36);
  const dir = mkdtempSync(join(tmpdir(), "baton-tickets-"));
  const dbPath = join(dir, "tickets.db");
  let stack: TestStack;
  let client: TestClient;
  let tickets: ServiceProcess;
  let db: DatabaseSync;
  let webhook: Server;
  let origin: string;
  const hooks: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let ticketsEnv: Record<string, string>;

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c));
      req.on("end", () => {
        hooks.push({ url: req.url ?? "", headers: req.headers, body });
        res.writeHead(202, { "content-type": "application/json" }).end('{"accepted":true}');
      });
    });
    await new Promise<void>((r) => webhook.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
    stack = await startStack({ services: ["supervisor", "synthesizer", "data-agent"] });
    // A short ack_wait, so a killed replica's step is redelivered quickly.
    ticketsEnv = { ...stack.env, TICKETS_DB_PATH: dbPath, NOTIFY_ALLOWED_ORIGINS: origin, WORK_ACK_WAIT_MS: "2000" };
    tickets = await startService("tickets-agent", ticketsEnv);
    client = await connectClient(stack.nats.url);
    // The writes wait for a person by default; here the test approves them (see approvals.test.ts for the gates).
    client.approveAll(() => true);
    db = new DatabaseSync(dbPath, { readOnly: true });
  });
  afterAll(async () => {
    db?.close();
    await client?.close();
    await tickets?.stop();
    await stack?.stop();
    await new Promise<void>((r) => (webhook ? webhook.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = (sql: string, ...params: (string | number)[]) => db.prepare(sql).all(...params) as Record<string, unknown>[];

  it("files tickets from what the data agent finds ($fromStep), and they are in the database", async () => {
    const taskId = `tickets-data-${run}`;
    const ticketArgs = (row: number) => ({
      title: { $fromStep: "find", path: `/rows/${row}/title` },
      body: { $fromStep: "find", path: `/rows/${row}/body` },
      priority: "high",
      labels: ["recall", run],
    });
    await client.submit({
      taskId,
      goal: "File a recall check ticket for each of the two most powerful cars",
      plan: {
        steps: [
          {
            id: "find",
            agent: "data",
            instruction: "The two most powerful cars",
            toolCalls: [
              {
                tool: "sql_query",
                args: {
                  sql: `SELECT concat('Recall check: ', "Name") AS title, concat('Horsepower ', "Horsepower", ', model year ', year("Year")) AS body
                        FROM cars WHERE "Horsepower" IS NOT NULL ORDER BY "Horsepower" DESC, "Name" LIMIT 2`,
                },
              },
            ],
          },
          {
            id: "file",
            agent: "tickets",
            instruction: "File one ticket per car",
            dependsOn: ["find"],
            toolCalls: [
              { tool: "create_ticket", args: ticketArgs(0) },
              { tool: "create_ticket", args: ticketArgs(1) },
            ],
          },
          {
            id: "check",
            agent: "tickets",
            instruction: "List the tickets filed",
            dependsOn: ["file"],
            toolCalls: [{ tool: "list_tickets", args: { label: run } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status, JSON.stringify(outcome.value)).toBe("completed");
    if (outcome.status !== "completed") return;
    const found = outcome.value.steps.find((s) => s.stepId === "find")?.output as { rows: { title: string; body: string }[] };
    const listed = outcome.value.steps.find((s) => s.stepId === "check")?.output as { count: number; tickets: { title: string }[] };
    expect(listed.count).toBe(2);
    const stored = rows("SELECT title, body, priority, labels, status FROM tickets WHERE labels LIKE ? ORDER BY id", `%${run}%`);
    expect(stored).toEqual(
      found.rows.map((r) => ({ title: r.title, body: r.body, priority: "high", labels: JSON.stringify(["recall", run]), status: "open" })),
    );
    expect(stored[0]?.title).toMatch(/^Recall check: /);
  });

  it("undoes the tickets of a task that fails later (saga): the update is reverted, the ticket closed, the outcome lists both", async () => {
    const taskId = `tickets-saga-${run}`;
    const title = `Saga ticket ${run}`;
    await client.submit({
      taskId,
      goal: "File a ticket, raise it, then fail",
      plan: {
        steps: [
          {
            id: "file",
            agent: "tickets",
            instruction: "File it",
            toolCalls: [{ tool: "create_ticket", args: { title, priority: "low" } }],
          },
          {
            id: "raise",
            agent: "tickets",
            instruction: "Raise it",
            dependsOn: ["file"],
            toolCalls: [{ tool: "update_ticket", args: { id: { $fromStep: "file", path: "/ticket/id" }, priority: "urgent" } }],
          },
          {
            id: "boom",
            agent: "data",
            instruction: "A refused write fails the task",
            dependsOn: ["raise"],
            toolCalls: [{ tool: "sql_query", args: { sql: "DELETE FROM cars" } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status).toBe("failed");
    if (outcome.status !== "failed") return;
    expect(outcome.value.failedStep).toBe("boom");
    const [undoRaise, undoFile] = outcome.value.compensations ?? [];
    expect(outcome.value.compensations).toHaveLength(2);
    expect(undoRaise).toMatchObject({
      stepId: "raise",
      agent: "tickets",
      status: "completed",
      output: { before: { priority: "urgent" }, after: { priority: "low", status: "open" } },
    });
    expect(undoFile).toMatchObject({
      stepId: "file",
      agent: "tickets",
      status: "completed",
      output: { after: { title, status: "closed", resolution: "withdrawn" } },
    });
    expect(rows("SELECT priority, status, resolution FROM tickets WHERE title = ?", title)).toEqual([
      { priority: "low", status: "closed", resolution: "withdrawn" },
    ]);
  });

  it("notify POSTs to a real local webhook with the call's Idempotency-Key", async () => {
    const taskId = `tickets-notify-${run}`;
    hooks.length = 0;
    await client.submit({
      taskId,
      goal: "File a ticket and tell the team",
      plan: {
        steps: [
          {
            id: "file",
            agent: "tickets",
            instruction: "File it",
            toolCalls: [{ tool: "create_ticket", args: { title: `Notify ${run}` } }],
          },
          {
            id: "tell",
            agent: "tickets",
            instruction: "Tell the team",
            dependsOn: ["file"],
            toolCalls: [
              {
                tool: "notify",
                args: {
                  url: `${origin}/hooks/tickets`,
                  payload: { event: "ticket.created", ticket: { $fromStep: "file", path: "/ticket" } },
                },
              },
            ],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status, JSON.stringify(outcome.value)).toBe("completed");
    if (outcome.status !== "completed") return;
    const tell = outcome.value.steps.find((s) => s.stepId === "tell");
    const key = effectId({ taskId, stepId: "tell", tool: "notify", args: tell?.toolCalls[0]?.args ?? {} });
    expect(tell?.toolCalls[0]).toMatchObject({ ok: true });
    expect(tell?.output).toMatchObject({ delivered: true, status: 202, idempotencyKey: key });
    expect(hooks).toHaveLength(1);
    expect(hooks[0]?.headers["idempotency-key"]).toBe(key);
    const body = JSON.parse(hooks[0]?.body ?? "{}") as { event: string; ticket: { title: string; id: number } };
    expect(body).toMatchObject({ event: "ticket.created", ticket: { title: `Notify ${run}` } });
  });

  it("a worker SIGKILLed mid-write: another replica repeats the write with the same key — one ticket, task completed, no EFFECT_IN_DOUBT", async () => {
    await tickets.stop();
    // Replica A commits the ticket, then sleeps before returning: it is killed in that window.
    const a = await startService("tickets-agent", { ...ticketsEnv, TICKETS_WRITE_DELAY_MS: "8000" });
    const taskId = `tickets-kill-${run}`;
    const title = `Killed mid-write ${run}`;
    const args = { title, body: "the worker dies after the INSERT", labels: ["chaos"] };
    const events = client.watch(taskId);
    await client.submit({
      taskId,
      goal: "File one ticket",
      plan: { steps: [{ id: "file", agent: "tickets", instruction: "File it", toolCalls: [{ tool: "create_ticket", args }] }] },
    });
    const deadline = Date.now() + 30_000;
    while (rows("SELECT id FROM tickets WHERE title = ?", title).length === 0) {
      if (Date.now() > deadline) throw new Error("the ticket was never written");
      await new Promise((r) => setTimeout(r, 25));
    }
    await a.kill();
    const killedAt = Date.now();
    tickets = await startService("tickets-agent", ticketsEnv); // replica B, no delay
    const outcome = await client.outcome(taskId, 60_000);
    expect(outcome.status, JSON.stringify(outcome.value)).toBe("completed");
    if (outcome.status !== "completed") return;
    const step = outcome.value.steps.find((s) => s.stepId === "file");
    const key = effectId({ taskId, stepId: "file", tool: "create_ticket", args });
    expect(rows("SELECT count(*) AS n FROM tickets WHERE title = ?", title)).toEqual([{ n: 1 }]);
    expect(rows("SELECT count(*) AS n FROM tickets WHERE idempotency_key = ?", key)).toEqual([{ n: 1 }]);
    expect(rows("SELECT count(*) AS n FROM ticket_writes WHERE idempotency_key = ?", key)).toEqual([{ n: 1 }]);
    const [stored] = rows("SELECT id FROM tickets WHERE idempotency_key = ?", key);
    expect(step?.toolCalls[0]).toMatchObject({ ok: true });
    expect(step?.toolCalls[0]?.ok && step.toolCalls[0].replayed).toBeFalsy(); // run again (taken over), not replayed
    expect(step?.output).toMatchObject({ ticket: { id: stored?.id, title } });
    expect(step?.worker).not.toBe(a.logs.find((l) => typeof l.instance === "string")?.instance);
    expect(JSON.stringify(outcome.value)).not.toContain("EFFECT_IN_DOUBT");
    // Started on A, then — redelivered after A's lease ran out — on B.
    const startedOn = events.flatMap((e) => (e.type === "step.started" ? [e.worker] : []));
    expect(new Set(startedOn).size).toBe(2);
    expect(startedOn.at(-1)).toBe(step?.worker);
    // Replica B took over the claim in doubt and repeated the call: the store returned the stored ticket.
    await tickets.waitForLog((l) => l.msg === "ticket write repeated: its idempotency key was known, the stored result is returned", 5_000);
    console.log(`tickets kill test: task completed ${Date.now() - killedAt} ms after the kill`);
  });
});
