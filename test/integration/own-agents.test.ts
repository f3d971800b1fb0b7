import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_REPLICA_TTL_MS } from "@baton/contracts";
import { AgentRegistry, natsServerAvailable } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import {
  type LoggedProcess,
  ROOT,
  type ServiceProcess,
  spawnLogged,
  startService,
  startStack,
  type TestStack,
} from "../support/services.ts";
import { anthropicToolUse, startScriptedLlmServer, type ScriptedLlmServer } from "../support/scripted-llm-server.ts";

// A fourth agent from outside this repository's workspaces: the SDK is packed into a tarball
// (`npm run sdk:pack`), the example agent in examples/agents/geo is copied to a temporary folder
// and installed from that tarball (not the workspace), type-checked against the packed
// declarations, and started as a real process beside the built-in agents.

const EXAMPLE = join(ROOT, "examples", "agents", "geo");
const INSTALL_TIMEOUT_MS = 240_000;

function run(command: string, args: string[], cwd: string, timeoutMs = INSTALL_TIMEOUT_MS): string {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, npm_config_audit: "false", npm_config_fund: "false" },
  });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} in ${cwd} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  return result.stdout;
}

describe.skipIf(!natsServerAvailable())(
  "bring your own agent: the packed SDK, an agent in its own folder, beside the built-in agents",
  () => {
    let workDir: string;
    let agentDir: string;
    let stack: TestStack;
    let client: TestClient;
    let geo: LoggedProcess | undefined;
    let files: ServiceProcess | undefined;
    let filesDir: string;
    let registry: AgentRegistry;

    beforeAll(async () => {
      workDir = mkdtempSync(join(tmpdir(), "baton-own-agent-"));
      const packed = run(process.execPath, [join(ROOT, "packages", "agent", "scripts", "pack.ts")], ROOT);
      const tarball = /packed (\S+\.tgz)/.exec(packed)?.[1];
      if (!tarball) throw new Error(`no tarball in the pack output:\n${packed}`);
      agentDir = join(workDir, "geo");
      cpSync(EXAMPLE, agentDir, { recursive: true, filter: (src) => !src.includes("node_modules") && !src.endsWith("package-lock.json") });
      const manifestFile = join(agentDir, "package.json");
      const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { dependencies: Record<string, string> };
      manifest.dependencies["@baton/agent"] = `file:${tarball}`;
      writeFileSync(manifestFile, JSON.stringify(manifest, null, 2));
      run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], agentDir);
      stack = await startStack({ services: ["supervisor", "synthesizer", "code-agent", "data-agent"] });
      client = await connectClient(stack.nats.url);
      // The MCP agent's write_file waits for a person; the test approves.
      client.approveAll(() => true);
      registry = await AgentRegistry.open(client.nc);
    }, INSTALL_TIMEOUT_MS + 60_000);

    afterAll(async () => {
      registry?.close();
      await files?.stop();
      if (geo && geo.process.exitCode === null && geo.process.signalCode === null) geo.process.kill("SIGKILL");
      await client?.close();
      await stack?.stop();
      if (workDir) rmSync(workDir, { recursive: true, force: true });
    });

    it("installs from the tarball, not the workspace, and its TypeScript checks against the packed declarations", () => {
      const installed = join(agentDir, "node_modules", "@baton", "agent");
      const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as {
        exports: Record<string, { types: string; default: string }>;
      };
      expect(pkg.exports["."]?.default).toMatch(/\.js$/);
      expect(pkg.exports["."]?.types).toMatch(/\.d\.ts$/);
      run(process.execPath, [join(agentDir, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], agentDir, 120_000);
    });

    it("starts as a fourth agent type: registers its card and one live replica", async () => {
      const creds = (await stack.credentials({ kind: "agent", agent: "geo" })) ?? "";
      geo = spawnLogged(join(agentDir, "src", "main.ts"), "geo-agent", { NATS_URL: stack.nats.url, NATS_CREDS: creds, LOG_LEVEL: "info" });
      await geo.waitForLog((l) => l.msg === "worker ready", 60_000);
      const agent = await registry.lookup("geo");
      expect(agent?.card).toMatchObject({ agent: "geo", version: "1.0.0", llm: false });
      expect(agent?.card.tools.map((t) => t.name)).toEqual(["find_airports", "airport_distance"]);
      expect(agent?.card.tools[0]).toMatchObject({ riskTier: "read", idempotent: true, display: { format: "table", path: "/airports" } });
      expect(agent?.card.tools[0]?.inputSchema).toHaveProperty("properties.query");
      await expect.poll(() => registry.liveReplicas("geo").length, { timeout: 10_000 }).toBe(1);
      expect(registry.names()).toEqual(expect.arrayContaining(["code", "data", "geo"]));
    });

    it("is listed by `baton agents` and `baton agents show`", async () => {
      const creds = (await stack.credentials({ kind: "client" })) ?? "";
      const cli = (args: string[]) =>
        run(process.execPath, [join(ROOT, "cli", "src", "main.ts"), "--nats", stack.nats.url, "--creds", creds, ...args], ROOT, 30_000);
      const listed = cli(["--json", "agents"])
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { agent: string; replicas: number; tools: string[] });
      expect(listed.map((a) => a.agent)).toEqual(expect.arrayContaining(["code", "data", "geo"]));
      expect(listed.find((a) => a.agent === "geo")).toMatchObject({ replicas: 1, tools: ["find_airports", "airport_distance"] });
      const shown = cli(["agents", "show", "geo"]);
      expect(shown).toContain("find_airports  [read, idempotent, 2000 ms]");
      expect(shown).toContain("live replicas: 1");
    });

    it("runs a plan that mixes it with built-in agents, with dependencies between them", async () => {
      const { goal, plan } = JSON.parse(readFileSync(join(EXAMPLE, "trip-plan.json"), "utf8")) as { goal: string; plan: unknown };
      const taskId = `own-agent-${Date.now()}`;
      await client.submit({ taskId, goal, plan });
      const outcome = await client.outcome(taskId, 60_000);
      expect(outcome.status).toBe("completed");
      if (outcome.status !== "completed") return;
      const byId = Object.fromEntries(outcome.value.steps.map((s) => [s.stepId, s]));
      const airports = byId.seattle_airports?.output as { airports: unknown[] } | undefined;
      expect(airports?.airports[0]).toMatchObject({ iata: "SEA", city: "Seattle" });
      expect(byId.flight_distance?.output).toMatchObject({ from: "SEA", to: "JFK" });
      const km = (byId.flight_distance?.output as { km: number } | undefined)?.km ?? Number.NaN;
      expect(km).toBeGreaterThan(3_800);
      expect(km).toBeLessThan(3_900);
      expect(byId.trip_brief?.output).toMatchObject({ result: { route: "SEA to JFK", distance_km: km } });
      expect(outcome.value.answer).toContain("| SEA | Seattle-Tacoma Intl | Seattle | WA |");
      expect(outcome.value.answer).toContain("- geo agent: find_airports, airport_distance");
      console.log(`mixed plan (geo + data + code, 4 steps): ${outcome.value.timings.durationMs.toFixed(0)} ms end to end`);
    });

    it("runs one plan with it, an MCP-backed agent (examples/mcp/files-agent.json) and built-in agents", async () => {
      filesDir = join(workDir, "files");
      mkdirSync(filesDir);
      files = await startService(
        "mcp-agent",
        {
          ...stack.env,
          MCP_CONFIG: join(ROOT, "examples", "mcp", "files-agent.json"),
          FILES_DIR: filesDir,
          MEMORY_FILE: join(workDir, "memory.jsonl"),
        },
        { kind: "agent", agent: "files" },
      );
      expect((await registry.lookup("files"))?.card.tools.map((t) => t.name)).toEqual(
        expect.arrayContaining(["write_file", "read_text_file"]),
      );
      const brief = join(filesDir, "trip.md");
      const taskId = `own-mixed-${Date.now()}`;
      await client.submit({
        taskId,
        goal: "Write a one-line trip note for Boston to Seattle and read it back",
        plan: {
          steps: [
            {
              id: "hop",
              agent: "geo",
              instruction: "BOS to SEA",
              toolCalls: [{ tool: "airport_distance", args: { from: "BOS", to: "SEA" } }],
            },
            {
              id: "note",
              agent: "code",
              instruction: "A one-line note",
              dependsOn: ["hop"],
              toolCalls: [{ tool: "run_javascript", args: { code: "const d = inputs.hop; return `${d.from} to ${d.to}: ${d.km} km`;" } }],
            },
            {
              id: "rows",
              agent: "data",
              instruction: "Count the cars",
              toolCalls: [{ tool: "sql_query", args: { sql: "SELECT count(*) AS n FROM cars" } }],
            },
            {
              id: "save",
              agent: "files",
              instruction: "Save the note",
              dependsOn: ["note"],
              toolCalls: [{ tool: "write_file", args: { path: brief, content: { $fromStep: "note", path: "/result" } } }],
            },
            {
              id: "check",
              agent: "files",
              instruction: "Read it back",
              dependsOn: ["save"],
              toolCalls: [{ tool: "read_text_file", args: { path: brief } }],
            },
          ],
        },
      });
      const outcome = await client.outcome(taskId, 60_000);
      expect(outcome.status).toBe("completed");
      if (outcome.status !== "completed") return;
      const written = readFileSync(brief, "utf8");
      expect(written).toMatch(/^BOS to SEA: \d{4}(\.\d)? km$/);
      expect(outcome.value.steps.find((s) => s.stepId === "check")?.output).toMatchObject({ content: written });
      expect(new Set(outcome.value.steps.map((s) => s.agent))).toEqual(new Set(["geo", "code", "data", "files"]));
      console.log(`mixed plan (geo + MCP files + code + data, 5 steps): ${outcome.value.timings.durationMs.toFixed(0)} ms end to end`);
    });

    it("rejects a step for an unregistered agent or tool at once, with the registered names", async () => {
      const started = Date.now();
      await client.submit({
        taskId: "own-unknown-agent",
        goal: "unknown agent",
        plan: { steps: [{ id: "a", agent: "weather", instruction: "x", toolCalls: [{ tool: "forecast", args: {} }] }] },
      });
      const agentRejection = await client.waitForRejection((r) => r.taskId === "own-unknown-agent");
      expect(agentRejection.error.code).toBe("UNKNOWN_AGENT");
      expect(agentRejection.error.issues?.[0]).toMatchObject({ path: "plan.steps.0.agent" });
      expect(agentRejection.error.issues?.[0]?.message).toMatch(/registered agents: code, data, files, geo/);

      await client.submit({
        taskId: "own-unknown-tool",
        goal: "unknown tool",
        plan: { steps: [{ id: "a", agent: "geo", instruction: "x", toolCalls: [{ tool: "teleport", args: {} }] }] },
      });
      const toolRejection = await client.waitForRejection((r) => r.taskId === "own-unknown-tool");
      expect(toolRejection.error.code).toBe("UNKNOWN_TOOL");
      expect(toolRejection.error.issues?.[0]).toMatchObject({
        path: "plan.steps.0.toolCalls.0.tool",
        message: 'agent "geo" has no tool "teleport"; its tools: find_airports, airport_distance',
      });

      await client.submit({
        taskId: "own-bad-args",
        goal: "bad arguments",
        plan: { steps: [{ id: "a", agent: "geo", instruction: "x", toolCalls: [{ tool: "airport_distance", args: { from: "SEA" } }] }] },
      });
      const argsRejection = await client.waitForRejection((r) => r.taskId === "own-bad-args");
      expect(argsRejection.error.code).toBe("INVALID_ARGUMENTS");
      expect(argsRejection.error.issues?.map((i) => i.path)).toEqual(["plan.steps.0.toolCalls.0.args.to"]);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it("builds the LLM planner's prompt from the registered cards, and runs the plan it returns", async () => {
      const llm: ScriptedLlmServer = await startScriptedLlmServer({
        rules: [
          {
            name: "planner",
            when: { systemIncludes: "You are the planner of Baton", forcedTool: "submit_plan" },
            respond: {
              body: anthropicToolUse([
                {
                  name: "submit_plan",
                  input: {
                    steps: [
                      {
                        id: "bos",
                        agent: "geo",
                        instruction: "Boston's airport",
                        toolCalls: [{ tool: "find_airports", args: { query: "Boston", state: "MA" } }],
                      },
                      {
                        id: "hop",
                        agent: "geo",
                        instruction: "Boston to Chicago O'Hare",
                        dependsOn: ["bos"],
                        toolCalls: [
                          { tool: "airport_distance", args: { from: { $fromStep: "bos", path: "/airports/0/iata" }, to: "ORD" } },
                        ],
                      },
                      {
                        id: "hours",
                        agent: "code",
                        instruction: "Flight hours at 800 km/h",
                        dependsOn: ["hop"],
                        toolCalls: [
                          {
                            tool: "evaluate_expression",
                            args: { expression: "round(km / 800, 1)", scope: { km: { $fromStep: "hop", path: "/km" } } },
                          },
                        ],
                      },
                    ],
                  },
                },
              ]),
            },
          },
        ],
      });
      const planner = await startService("supervisor", {
        ...stack.env,
        ANTHROPIC_API_KEY: "test-key",
        ANTHROPIC_BASE_URL: llm.anthropicBaseURL,
      });
      try {
        // Two supervisors share the submissions durable; only the one with an LLM can plan a goal, so
        // stop the first for this test.
        const plain = stack.services.find((s) => s.name === "supervisor");
        await plain?.stop();
        const taskId = `own-planned-${Date.now()}`;
        await client.submit({ taskId, goal: "How long is a flight from Boston to Chicago?" });
        const outcome = await client.outcome(taskId, 60_000);
        expect(outcome.status).toBe("completed");
        const prompt = llm.requests[0]?.summary.allMessages ?? "";
        expect(prompt).toContain("- geo [needs toolCalls]: Knows US airports");
        expect(prompt).toContain(
          "find_airports (Finds US airports in the FAA list by city, airport name or code (case-insensitive substring), optionally within one state.)",
        );
        expect(prompt).toContain('"properties":{"from"');
        expect(prompt).toContain("- data [needs toolCalls]: Answers questions about tabular data");
        expect(llm.requests[0]?.summary.system).not.toMatch(/\b(geo|data|code|research) agent\b/);
        if (outcome.status === "completed")
          expect(outcome.value.steps.find((s) => s.stepId === "hours")?.output).toMatchObject({ result: expect.any(Number) });
      } finally {
        await planner.stop();
        await llm.close();
      }
    });

    it(`drops a replica that stops heartbeating within ${AGENT_REPLICA_TTL_MS / 1000} s, and keeps the agent registered`, async () => {
      if (!geo) throw new Error("the geo agent did not start");
      const killedAt = Date.now();
      geo.process.kill("SIGKILL");
      await geo.exited;
      await expect.poll(() => registry.liveReplicas("geo").length, { timeout: AGENT_REPLICA_TTL_MS + 5_000, interval: 250 }).toBe(0);
      const droppedAfterMs = Date.now() - killedAt;
      console.log(`killed geo replica dropped out of the live replicas after ${droppedAfterMs} ms`);
      expect(droppedAfterMs).toBeLessThanOrEqual(AGENT_REPLICA_TTL_MS + 1_000);
      expect(registry.get("geo")?.card.agent).toBe("geo");
    }, 30_000);
  },
);
