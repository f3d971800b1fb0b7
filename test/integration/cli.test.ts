import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { natsServerAvailable } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Stack, startStack } from "../../cli/src/stack.ts";

// End-to-end tests of the `baton` CLI: a private nats-server and the five services as real
// processes (startStack), and the CLI run as a child process against them. No mocks.

const root = resolve(import.meta.dirname, "../..");
const cliMain = join(root, "cli", "src", "main.ts");
const examplePlan = join(root, "examples", "seattle-weather-brief.json");

interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The client credentials of the stack under test (its server refuses anonymous connections). */
let clientCreds: string | undefined;

/** Runs `node cli/src/main.ts ...args` and collects its output (stdout is a pipe: plain rendering). */
function cli(args: readonly string[], timeoutMs = 90_000): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", NATS_URL: "", ...(clientCreds ? { NATS_CREDS: clientCreds } : {}) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

const step = (id: string, agent: string, tool: string, args: Record<string, unknown>, dependsOn: string[] = []) => ({
  id,
  agent,
  instruction: `${tool} for ${id}`,
  toolCalls: [{ tool, args }],
  dependsOn,
});

/** Used when the example plan is not in the repository (yet). */
const smokePlan = {
  goal: "CLI smoke test: count the weather rows, add two numbers, find readline docs",
  plan: {
    steps: [
      step("count_rows", "data", "sql_query", { sql: "select count(*) as n from seattle_weather" }),
      step("add", "code", "evaluate_expression", { expression: "2+3" }),
      step("readline_docs", "research", "search_documents", { query: "readline" }, ["count_rows", "add"]),
    ],
  },
};

const failingPlan = {
  goal: "CLI failure test: a refused query",
  plan: {
    steps: [
      step("add", "code", "evaluate_expression", { expression: "2+3" }),
      step("wipe_cars", "data", "sql_query", { sql: "DELETE FROM cars" }),
      step("after_wipe", "code", "evaluate_expression", { expression: "1" }, ["wipe_cars"]),
    ],
  },
};

/** A bare plan (no goal) whose dependencies form a cycle. */
const cyclicPlan = {
  steps: [
    step("a", "code", "evaluate_expression", { expression: "1" }, ["b"]),
    step("b", "code", "evaluate_expression", { expression: "2" }, ["a"]),
  ],
};

/** Valid for the schema, but the supervisor rejects it: a step without tool calls needs an LLM. */
const needsLlmPlan = { goal: "CLI rejection test", plan: { steps: [{ id: "think", agent: "research", instruction: "Think hard" }] } };

describe.skipIf(!natsServerAvailable())("baton CLI against a real stack", () => {
  let stack: Stack;
  let dir: string;
  let natsUrl: string;
  const files: Record<"run" | "smoke" | "failing" | "cyclic" | "needsLlm", string> = {
    run: "",
    smoke: "",
    failing: "",
    cyclic: "",
    needsLlm: "",
  };
  let runGoal = "";
  let runStepIds: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "baton-cli-test-"));
    const write = async (name: string, value: unknown) => {
      const path = join(dir, `${name}.json`);
      await writeFile(path, JSON.stringify(value, null, 2));
      return path;
    };
    files.smoke = await write("smoke", smokePlan);
    files.failing = await write("failing", failingPlan);
    files.cyclic = await write("cyclic", cyclicPlan);
    files.needsLlm = await write("needs-llm", needsLlmPlan);
    files.run = existsSync(examplePlan) ? examplePlan : files.smoke;
    const runPlan = JSON.parse(await readFile(files.run, "utf8")) as { goal: string; plan: { steps: { id: string }[] } };
    runGoal = runPlan.goal;
    runStepIds = runPlan.plan.steps.map((s) => s.id);
    stack = await startStack({});
    natsUrl = stack.natsUrl;
    clientCreds = stack.clientCreds;
  });

  afterAll(async () => {
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("run: prints per-step progress, the answer and a timing summary; exit 0", async () => {
    const r = await cli(["--nats", natsUrl, "run", "--plan", files.run]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`# ${runGoal}`);
    for (const id of runStepIds) expect(r.stdout).toMatch(new RegExp(`step\\.completed\\s+${id}\\s`));
    expect(r.stdout).toMatch(/^Timing: total \d/m);
    for (const id of runStepIds) expect(r.stdout).toMatch(new RegExp(`Timing: .*· ${id} \\d`));
  });

  it("run --json: one JSON object per line, ending with the outcome", async () => {
    const r = await cli(["--nats", natsUrl, "--json", "run", "--plan", files.smoke]);
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ kind: "submitted" });
    expect(lines.filter((l) => l.kind === "event").map((l) => l.type)).toEqual(
      expect.arrayContaining(["accepted", "planned", "completed"]),
    );
    expect(lines.at(-1)).toMatchObject({ kind: "outcome", status: "completed", goal: smokePlan.goal });
  });

  it("submit + watch + result round trip", async () => {
    const submitted = await cli(["--nats", natsUrl, "submit", "--plan", files.run]);
    expect(submitted.code).toBe(0);
    const taskId = submitted.stdout.trim();
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);

    const watched = await cli(["--nats", natsUrl, "watch", taskId]);
    expect(watched.code).toBe(0);
    expect(watched.stdout).toMatch(/\baccepted\s+task /);
    for (const id of runStepIds) expect(watched.stdout).toMatch(new RegExp(`step\\.completed\\s+${id}\\s`));
    expect(watched.stdout).toMatch(/\bcompleted\s+total /);

    const result = await cli(["--nats", natsUrl, "result", taskId]);
    expect(result.code).toBe(0);
    expect(result.stdout.startsWith(`# ${runGoal}`)).toBe(true);
    expect(result.stderr).toMatch(/^Timing: total /);

    const json = await cli(["--nats", natsUrl, "--json", "result", taskId]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: "outcome", status: "completed", taskId });

    // Watching a finished task replays its history and ends at once.
    const again = await cli(["--nats", natsUrl, "watch", taskId]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/\bcompleted\s+total /);
  });

  it("result of an unknown task: exit 3", async () => {
    const r = await cli(["--nats", natsUrl, "result", "no-such-task-42"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("No task no-such-task-42");
  });

  it("run with a cyclic plan: exit 2 with the field path, validated before connecting", async () => {
    const r = await cli(["--nats", natsUrl, "run", "a cycle", "--plan", files.cyclic]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("plan.steps.0.dependsOn: dependency cycle: a -> b -> a");
    // Nothing listens on port 1: exit 2 (not 1) proves the check happens before any NATS traffic.
    const offline = await cli(["--nats", "nats://127.0.0.1:1", "run", "a cycle", "--plan", files.cyclic]);
    expect(offline.code).toBe(2);
    expect(offline.stderr).toContain("plan.steps.0.dependsOn");
  });

  it("run where a step fails: exit 1, the failing step named", async () => {
    const r = await cli(["--nats", natsUrl, "run", "--plan", files.failing]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^Failing step: wipe_cars \(data agent\): TOOL_REFUSED/m);
    expect(r.stdout).toMatch(/✖ wipe_cars\s+data\s+failed/);
    expect(r.stdout).toMatch(/↷ after_wipe\s+code\s+skipped/);
  });

  it("run rejected by the supervisor: exit 2 with the reason and the field", async () => {
    const r = await cli(["--nats", natsUrl, "run", "--plan", files.needsLlm]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Submission rejected (LLM_UNAVAILABLE)");
    expect(r.stderr).toContain("plan.steps.0.toolCalls");
  });

  it("unreachable NATS: a clear message, no stack trace, exit 1", async () => {
    const r = await cli(["--nats", "nats://127.0.0.1:1", "result", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("cannot reach NATS at nats://127.0.0.1:1");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
