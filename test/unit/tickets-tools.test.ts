import { readFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type AgentCard, Plan } from "@baton/contracts";
import { checkPlanAgainstCards, withDeclaredCompensations } from "@baton/supervisor";
import { effectId, executeToolCall, type Tool, ToolRegistry, toolCard } from "@baton/tools";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AllowedOrigins,
  createNotifyTool,
  createTicketTools,
  redactDatabaseUrl,
  SqliteTicketStore,
  scrub,
  type Ticket,
  databaseUrlSecrets,
  TicketsAgentEnv,
} from "../../services/tickets-agent/src/index.ts";
import { ROOT } from "../support/services.ts";

const ctx = (taskId: string, stepId = "file") => ({ signal: new AbortController().signal, taskId, stepId, inputs: {} });

/** RFC 6901 lookup, as the supervisor resolves a compensation's argument pointers. */
function pointer(value: unknown, path: string): unknown {
  if (path === "") return value;
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce<unknown>((v, token) => (v as Record<string, unknown>)[token], value);
}

/** The compensation call a tool declares, with its arguments taken from `output`. */
function compensationOf(tool: Tool | undefined, output: unknown): { tool: string; args: Record<string, unknown> } {
  const comp = tool?.compensation;
  if (!comp) throw new Error(`${tool?.name} declares no compensation`);
  return { tool: comp.tool, args: Object.fromEntries(Object.entries(comp.args).map(([k, p]) => [k, pointer(output, p)])) };
}

describe("ticket tools", () => {
  const store = SqliteTicketStore.open(":memory:");
  const tools = createTicketTools({ store });
  const registry = new ToolRegistry(tools);
  const call = async (tool: string, args: Record<string, unknown>, taskId = "t", stepId = "file") => {
    const result = await executeToolCall(registry, { tool, args }, ctx(taskId, stepId));
    if (!result.ok) throw new Error(`${tool}: ${result.error.code} ${result.error.message}`);
    return result.output as { ticket: Ticket; before: Ticket; after: Ticket };
  };
  afterAll(() => store.dispose());

  it("declares risk tiers, idempotency, the key flag and compensations with tools of the same agent", () => {
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(Object.keys(byName).sort()).toEqual([
      "close_ticket",
      "create_ticket",
      "get_ticket",
      "list_tickets",
      "reopen_ticket",
      "update_ticket",
    ]);
    for (const name of ["create_ticket", "update_ticket", "close_ticket", "reopen_ticket"]) {
      expect(byName[name]).toMatchObject({ riskTier: "write", idempotent: false, usesIdempotencyKey: true });
      expect(byName[byName[name]?.compensation?.tool ?? "none"]).toBeDefined();
    }
    for (const name of ["get_ticket", "list_tickets"]) expect(byName[name]).toMatchObject({ riskTier: "read", idempotent: true });
    expect(byName.get_ticket?.usesIdempotencyKey).toBeUndefined();
  });

  it("create_ticket stores the call's idempotency key: the same call again returns the same ticket, not a second one", async () => {
    const args = { title: "Printer on fire", labels: ["facilities"] };
    const first = await call("create_ticket", args, "t-dup");
    const again = await call("create_ticket", args, "t-dup");
    expect(again).toEqual(first);
    expect(first.ticket).toMatchObject({ title: "Printer on fire", priority: "normal", body: "", labels: ["facilities"], status: "open" });
    expect(await store.list({ text: "Printer on fire", limit: 10 })).toHaveLength(1);
    // Another task is another call (another key): a second ticket.
    await call("create_ticket", args, "t-dup-2");
    expect(await store.list({ text: "Printer on fire", limit: 10 })).toHaveLength(2);
  });

  it("each write's declared compensation undoes it", async () => {
    const byName = new Map(tools.map((t) => [t.name, t]));
    const created = await call("create_ticket", { title: "Saga", priority: "low", labels: ["a"] }, "t-saga", "s1");
    const updated = await call(
      "update_ticket",
      { id: created.ticket.id, priority: "urgent", labels: ["a", "b"], title: "Saga!" },
      "t-saga",
      "s2",
    );
    expect(updated.before).toEqual(created.ticket);
    expect(updated.after).toMatchObject({ priority: "urgent", labels: ["a", "b"], title: "Saga!" });
    const closed = await call("close_ticket", { id: created.ticket.id, resolution: "duplicate" }, "t-saga", "s3");
    expect(closed.after).toMatchObject({ status: "closed", resolution: "duplicate" });

    // Undo, latest first, as the supervisor does.
    const undoClose = compensationOf(byName.get("close_ticket"), closed);
    expect(undoClose).toEqual({ tool: "reopen_ticket", args: { id: created.ticket.id } });
    const reopened = await call(undoClose.tool, undoClose.args, "t-saga", "s3");
    const undoUpdate = compensationOf(byName.get("update_ticket"), updated);
    await call(undoUpdate.tool, undoUpdate.args, "t-saga", "s2");
    expect(await store.get(created.ticket.id)).toMatchObject({ title: "Saga", priority: "low", labels: ["a"], status: "open" });
    const undoCreate = compensationOf(byName.get("create_ticket"), created);
    expect(undoCreate).toEqual({ tool: "close_ticket", args: { id: created.ticket.id } });
    await call(undoCreate.tool, undoCreate.args, "t-saga", "s1");
    expect(await store.get(created.ticket.id)).toMatchObject({ status: "closed", resolution: "withdrawn" });
    // reopen's own compensation closes again with the resolution it had.
    const undoReopen = compensationOf(byName.get("reopen_ticket"), reopened);
    expect(undoReopen).toEqual({ tool: "close_ticket", args: { id: created.ticket.id, resolution: "duplicate" } });
  });

  it("reads: get_ticket and list_tickets; structured errors for bad calls", async () => {
    const { ticket } = await call("create_ticket", { title: "Readable", priority: "high" }, "t-read");
    expect(await call("get_ticket", { id: ticket.id })).toEqual({ ticket });
    const listed = await call("list_tickets", { priority: "high", text: "readable" });
    expect(listed).toEqual({ tickets: [ticket], count: 1 });
    const missing = await executeToolCall(registry, { tool: "get_ticket", args: { id: 987_654 } }, ctx("t-read"));
    expect(missing).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", message: "no ticket 987654", retryable: false } });
    const empty = await executeToolCall(registry, { tool: "update_ticket", args: { id: ticket.id } }, ctx("t-read"));
    expect(empty).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS" } });
    const closedTwice = await executeToolCall(registry, { tool: "reopen_ticket", args: { id: ticket.id } }, ctx("t-read"));
    expect(closedTwice).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", message: expect.stringContaining("already open") } });
    const badPriority = await executeToolCall(registry, { tool: "create_ticket", args: { title: "x", priority: "meh" } }, ctx("t-read"));
    expect(badPriority).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS", issues: [{ path: "args.priority" }] } });
  });

  it("TICKETS_WRITE_DELAY_MS waits after the write is committed, before returning", async () => {
    const slowStore = SqliteTicketStore.open(":memory:");
    const slow = new ToolRegistry(createTicketTools({ store: slowStore, writeDelayMs: 300 }));
    const started = Date.now();
    const pending = executeToolCall(slow, { tool: "create_ticket", args: { title: "Slow" } }, ctx("t-slow"));
    await new Promise((r) => setTimeout(r, 100));
    expect(await slowStore.list({ limit: 10 })).toHaveLength(1); // already in the database
    expect(await pending).toMatchObject({ ok: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await slowStore.dispose();
  });
});

describe("notify", () => {
  let server: Server;
  let origin: string;
  const received: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];
  let nextStatus = 200;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8").on("data", (c: string) => (body += c));
      req.on("end", () => {
        received.push({ url: req.url ?? "", headers: req.headers, body });
        if (req.url === "/moved") {
          res.writeHead(302, { location: "http://example.invalid/elsewhere" }).end();
          return;
        }
        res.writeHead(nextStatus, { "content-type": "application/json" }).end(JSON.stringify({ ok: nextStatus < 300 }));
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const registry = () => new ToolRegistry([createNotifyTool({ allowedOrigins: [origin] })]);

  it("POSTs the JSON payload with the call's idempotency key; a repeated call sends the same key, another call another", async () => {
    received.length = 0;
    const args = { url: `${origin}/hooks/tickets`, payload: { event: "ticket.created", ticket: { id: 7 } } };
    const first = await executeToolCall(registry(), { tool: "notify", args }, ctx("t-n"));
    const repeat = await executeToolCall(registry(), { tool: "notify", args }, ctx("t-n"));
    const other = await executeToolCall(registry(), { tool: "notify", args: { ...args, payload: { event: "x" } } }, ctx("t-n"));
    const key = effectId({ taskId: "t-n", stepId: "file", tool: "notify", args });
    expect(first).toMatchObject({ ok: true, output: { delivered: true, status: 200, idempotencyKey: key, response: '{"ok":true}' } });
    expect(repeat).toMatchObject({ ok: true, output: { idempotencyKey: key } });
    expect(other).toMatchObject({ ok: true, output: { idempotencyKey: expect.not.stringMatching(key) } });
    expect(received.map((r) => r.headers["idempotency-key"])).toEqual([key, key, expect.not.stringMatching(key)]);
    expect(received[0]).toMatchObject({ url: "/hooks/tickets", body: JSON.stringify(args.payload) });
    expect(received[0]?.headers).toMatchObject({ "content-type": "application/json", "baton-task-id": "t-n", "baton-step-id": "file" });
  });

  it("refuses origins outside NOTIFY_ALLOWED_ORIGINS (and everything when it is empty), without sending", async () => {
    received.length = 0;
    const outside = await executeToolCall(registry(), { tool: "notify", args: { url: "http://127.0.0.2:9/x", payload: {} } }, ctx("t-r"));
    expect(outside).toMatchObject({ ok: false, error: { code: "TOOL_REFUSED", retryable: false } });
    expect(outside.ok ? "" : outside.error.message).toContain("NOTIFY_ALLOWED_ORIGINS");
    const none = await executeToolCall(
      new ToolRegistry([createNotifyTool({ allowedOrigins: [] })]),
      { tool: "notify", args: { url: `${origin}/x`, payload: {} } },
      ctx("t-r"),
    );
    expect(none).toMatchObject({
      ok: false,
      error: { code: "TOOL_REFUSED", message: expect.stringContaining("set NOTIFY_ALLOWED_ORIGINS") },
    });
    const ftp = await executeToolCall(registry(), { tool: "notify", args: { url: "ftp://127.0.0.1/x", payload: {} } }, ctx("t-r"));
    expect(ftp).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENTS" } });
    expect(received).toHaveLength(0);
  });

  it("reports 5xx and 429 as retryable, other 4xx not, and does not follow redirects", async () => {
    received.length = 0;
    const send = (path: string) =>
      executeToolCall(registry(), { tool: "notify", args: { url: `${origin}${path}`, payload: { n: path } } }, ctx("t-e"));
    nextStatus = 503;
    expect(await send("/a")).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: true } });
    nextStatus = 429;
    expect(await send("/b")).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: true } });
    nextStatus = 400;
    expect(await send("/c")).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", retryable: false } });
    nextStatus = 200;
    expect(await send("/moved")).toMatchObject({ ok: false, error: { code: "TOOL_FAILED", message: expect.stringContaining("redirect") } });
    expect(received.map((r) => r.url)).toEqual(["/a", "/b", "/c", "/moved"]);
  });
});

describe("tickets agent configuration", () => {
  it("parses NOTIFY_ALLOWED_ORIGINS into origins; none by default", () => {
    expect(AllowedOrigins.parse(undefined)).toEqual([]);
    expect(AllowedOrigins.parse(" https://hooks.example.com , http://127.0.0.1:8080/ ,https://hooks.example.com")).toEqual([
      "https://hooks.example.com",
      "http://127.0.0.1:8080",
    ]);
    expect(AllowedOrigins.safeParse("https://hooks.example.com/path").success).toBe(false);
    expect(AllowedOrigins.safeParse("not a url").success).toBe(false);
    expect(AllowedOrigins.safeParse("https://user:pw@hooks.example.com").success).toBe(false);
    expect(TicketsAgentEnv.parse({})).toEqual({
      TICKETS_DB_SCHEMA: "public",
      NOTIFY_ALLOWED_ORIGINS: [],
      TICKETS_WRITE_DELAY_MS: 0,
    });
  });

  it("redacts DATABASE_URL: password and secret parameters never show", () => {
    expect(redactDatabaseUrl("postgres://app:s3cret@db:5432/tickets")).toBe("postgres://app:***@db:5432/tickets");
    expect(redactDatabaseUrl("postgres://db/tickets?sslpassword=x1&application_name=a")).toBe(
      "postgres://db/tickets?sslpassword=***&application_name=a",
    );
    expect(redactDatabaseUrl("postgres://app@db/tickets")).toBe("postgres://app@db/tickets");
    expect(redactDatabaseUrl("::garbage::")).toBe("(unparseable database URL)");
    const url = "postgres://app:p%40ss@db/t";
    expect(scrub(`could not connect with ${url}: password p@ss rejected`, databaseUrlSecrets(url))).toBe(
      "could not connect with ***: password *** rejected",
    );
  });
});

describe("examples/tickets", () => {
  it("file-tickets.json is a valid plan for the tickets card (and a data agent), each ticket step compensated", async () => {
    const store = SqliteTicketStore.open(":memory:");
    const card = (agent: string, tools: Tool[]): AgentCard => ({
      schemaVersion: 1,
      agent,
      version: "0.1.0",
      description: agent,
      llm: false,
      updatedAt: new Date().toISOString(),
      tools: tools.map(toolCard),
    });
    const cards = new Map([
      ["tickets", card("tickets", [...createTicketTools({ store }), createNotifyTool({ allowedOrigins: [] })])],
      [
        "data",
        {
          ...card("data", []),
          tools: [
            {
              name: "sql_query",
              description: "sql",
              inputSchema: { type: "object" },
              riskTier: "read" as const,
              idempotent: true,
              timeoutMs: 1,
            },
          ],
        },
      ],
    ]);
    const example = JSON.parse(readFileSync(`${ROOT}/examples/tickets/file-tickets.json`, "utf8")) as { goal: string; plan: unknown };
    expect(example.goal.length).toBeGreaterThan(0);
    const plan = Plan.parse(example.plan);
    expect(checkPlanAgainstCards(plan, (n) => cards.get(n), [...cards.keys()], "plan")).toBeUndefined();
    const compensated = withDeclaredCompensations(plan, (n) => cards.get(n)).steps.filter((s) => s.compensation);
    expect(compensated.map((s) => [s.id, s.compensation?.tool])).toEqual([
      ["file_1", "close_ticket"],
      ["file_2", "close_ticket"],
      ["file_3", "close_ticket"],
    ]);
    await store.dispose();
  });
});
