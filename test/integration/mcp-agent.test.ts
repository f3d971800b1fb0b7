import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentCard, KV_BUCKETS } from "@baton/contracts";
import { natsServerAvailable, openKv } from "@baton/core";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { MCP_SERVERS } from "../support/mcp-servers.ts";
import { ROOT, type ServiceProcess, startService, startStack, type TestStack } from "../support/services.ts";

// services/mcp-agent as a real process on a real nats-server, beside the supervisor, the
// synthesizer and the code agent: its card in `baton_agents` lists the MCP tools with the
// servers' JSON Schemas, a plan mixes its steps with code-agent steps through $fromStep, and a
// tool added on an MCP server at run time reaches the card.

const AGENT = "mcp-files";

describe.skipIf(!natsServerAvailable())("the MCP agent as a service", () => {
  let dir: string;
  let files: string;
  let stack: TestStack;
  let client: TestClient;
  let agent: ServiceProcess;
  let card: () => Promise<AgentCard | undefined>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "baton-mcp-agent-"));
    files = join(dir, "files");
    rmSync(files, { recursive: true, force: true });
    await import("node:fs/promises").then((fs) => fs.mkdir(files));
    writeFileSync(join(files, "input.txt"), "21");
    const config = {
      agent: { name: AGENT, version: "1.2.3", description: "Reads and writes files in one folder, and echoes (test)." },
      servers: {
        fs: {
          command: process.execPath,
          args: [MCP_SERVERS.filesystem, "${MCP_TEST_FILES}"],
          tools: {
            read_text_file: { riskTier: "read", idempotent: true, display: { format: "text", path: "/content" } },
            write_file: { riskTier: "write", idempotent: true },
          },
        },
        test: {
          command: process.execPath,
          args: [MCP_SERVERS.test],
          restart: { initialDelayMs: 200, maxDelayMs: 2_000 },
          tools: {
            echo: { riskTier: "compute", idempotent: true, name: "test_echo" },
            add_tool: { riskTier: "write", idempotent: true },
            late_tool: { riskTier: "compute", idempotent: true },
          },
        },
      },
    };
    const configFile = join(dir, "agent.json");
    writeFileSync(configFile, JSON.stringify(config));
    stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent"] });
    client = await connectClient(stack.nats.url);
    // write_file and add_tool are `write` tools: they wait for a person; the test approves.
    client.approveAll(() => true);
    agent = await startService(
      "mcp-agent",
      { ...stack.env, MCP_CONFIG: configFile, MCP_TEST_FILES: files },
      { kind: "agent", agent: AGENT },
    );
    const kv = await openKv(client.nc, KV_BUCKETS.agents);
    card = async () => {
      const entry = await kv.get(AGENT);
      return entry && entry.operation === "PUT" ? AgentCard.parse(entry.json()) : undefined;
    };
  });

  afterAll(async () => {
    await agent?.stop();
    await client?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("publishes a card listing the allowlisted MCP tools with the servers' JSON Schemas", async () => {
    const published = await card();
    expect(published).toMatchObject({ agent: AGENT, version: "1.2.3", llm: false });
    expect(published?.tools.map((t) => t.name)).toEqual(["read_text_file", "write_file", "test_echo", "add_tool"]);
    expect(published?.tools[0]).toMatchObject({
      riskTier: "read",
      idempotent: true,
      timeoutMs: 30_000,
      display: { format: "text", path: "/content" },
    });
    expect(published?.tools[2]).toMatchObject({ riskTier: "compute", display: { format: "text", path: "/text" } });

    const mcp = new Client({ name: "schema-check", version: "1.0.0" });
    await mcp.connect(new StdioClientTransport({ command: process.execPath, args: [MCP_SERVERS.filesystem, files], stderr: "ignore" }));
    try {
      const listed = new Map((await mcp.listTools()).tools.map((t) => [t.name, t.inputSchema]));
      expect(published?.tools[0]?.inputSchema).toEqual(listed.get("read_text_file"));
      expect(published?.tools[1]?.inputSchema).toEqual(listed.get("write_file"));
    } finally {
      await mcp.close();
    }
  });

  it("runs a plan mixing MCP-backed steps and a code-agent step linked by $fromStep", async () => {
    const taskId = `mcp-mixed-${Date.now()}`;
    const output = join(files, "doubled.txt");
    await client.submit({
      taskId,
      goal: "Double the number in input.txt and write it to doubled.txt",
      plan: {
        steps: [
          {
            id: "read",
            agent: AGENT,
            instruction: "Read the input number",
            toolCalls: [{ tool: "read_text_file", args: { path: join(files, "input.txt") } }],
          },
          {
            id: "double",
            agent: "code",
            instruction: "Double it",
            dependsOn: ["read"],
            toolCalls: [
              {
                tool: "evaluate_expression",
                args: { expression: "string(number(x) * 2)", scope: { x: { $fromStep: "read", path: "/content" } } },
              },
            ],
          },
          {
            id: "write",
            agent: AGENT,
            instruction: "Write the result",
            dependsOn: ["double"],
            toolCalls: [{ tool: "write_file", args: { path: output, content: { $fromStep: "double", path: "/result" } } }],
          },
        ],
      },
    });
    const outcome = await client.outcome(taskId, 60_000);
    if (outcome.status !== "completed") throw new Error(`task failed: ${JSON.stringify(outcome.value)}`);
    const byId = Object.fromEntries(outcome.value.steps.map((s) => [s.stepId, s]));
    expect(byId.read?.output).toEqual({ content: "21" });
    expect(byId.double?.output).toMatchObject({ result: "42" });
    expect(byId.write?.status).toBe("completed");
    expect(readFileSync(output, "utf8")).toBe("42");
    expect(outcome.value.answer).toContain("> 21");
  });

  it("re-publishes the card when an MCP server's tool list changes", async () => {
    expect((await card())?.tools.some((t) => t.name === "late_tool")).toBe(false);
    const taskId = `mcp-add-tool-${Date.now()}`;
    await client.submit({
      taskId,
      goal: "Add a tool on the test server",
      plan: {
        steps: [{ id: "add", agent: AGENT, instruction: "Add late_tool", toolCalls: [{ tool: "add_tool", args: { name: "late_tool" } }] }],
      },
    });
    const added = await client.outcome(taskId, 30_000);
    expect(added.status).toBe("completed");
    await expect
      .poll(async () => (await card())?.tools.map((t) => t.name), { timeout: 10_000, interval: 100 })
      .toEqual(["read_text_file", "write_file", "test_echo", "add_tool", "late_tool"]);
    const late = (await card())?.tools.find((t) => t.name === "late_tool");
    expect(late?.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string" } } });

    // The supervisor accepts plans using the new tool, and the agent runs them.
    const useId = `mcp-late-tool-${Date.now()}`;
    await client.submit({
      taskId: useId,
      goal: "Use the tool added at run time",
      plan: { steps: [{ id: "use", agent: AGENT, instruction: "Echo", toolCalls: [{ tool: "late_tool", args: { text: "hello" } }] }] },
    });
    const used = await client.outcome(useId, 30_000);
    if (used.status !== "completed") throw new Error(`task failed: ${JSON.stringify(used.value)}`);
    expect(used.value.steps[0]?.output).toEqual({ text: "late_tool: hello" });
  });

  it("runs the example: examples/mcp/files-agent.json with examples/mcp/files-plan.json", async () => {
    const shared = join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    const example = await startService(
      "mcp-agent",
      {
        ...stack.env,
        MCP_CONFIG: join(ROOT, "examples", "mcp", "files-agent.json"),
        FILES_DIR: shared,
        MEMORY_FILE: join(dir, "memory.jsonl"),
      },
      { kind: "agent", agent: "files" },
    );
    try {
      const { goal, plan } = JSON.parse(readFileSync(join(ROOT, "examples", "mcp", "files-plan.json"), "utf8")) as {
        goal: string;
        plan: unknown;
      };
      const taskId = `mcp-example-${Date.now()}`;
      await client.submit({ taskId, goal, plan });
      const outcome = await client.outcome(taskId, 60_000);
      if (outcome.status !== "completed") throw new Error(`task failed: ${JSON.stringify(outcome.value)}`);
      const byId = Object.fromEntries(outcome.value.steps.map((s) => [s.stepId, s]));
      expect(byId.note_stats?.output).toMatchObject({ result: { lines: 3, words: 21 } });
      expect(byId.remember_note?.output).toMatchObject({ entities: [{ name: "baton-note.txt", entityType: "file" }] });
      expect(readFileSync(join(shared, "baton-note.txt"), "utf8")).toContain("Only allowlisted tools are exposed.");
      expect(readFileSync(join(dir, "memory.jsonl"), "utf8")).toContain("Baton runs multi-agent work");
    } finally {
      await example.stop();
    }
  });
});
