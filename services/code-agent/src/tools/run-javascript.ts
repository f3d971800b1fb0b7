import { defineTool, type Tool } from "@baton/tools";
import { z } from "zod";
import type { Sandbox } from "./sandbox.ts";
import { MAX_SCRIPT_TIMEOUT_MS } from "./sandbox-limits.ts";

/**
 * Input of `run_javascript`: `code` (1..50,000 chars), optional JSON `data`, optional `timeoutMs` (integer
 * 10..{@link MAX_SCRIPT_TIMEOUT_MS} = 5,000; unset uses the sandbox's `defaultTimeoutMs`, 2,000 unless configured).
 * The `timeoutMs` cap bounds what one step may ask for: see {@link MAX_SCRIPT_TIMEOUT_MS}.
 */
export const runJavascriptInput = z.object({
  code: z.string().min(1).max(50_000).describe("A JavaScript function body; `return` a JSON value."),
  data: z.json().optional().describe("Extra JSON data, visible to the code as the global `data`."),
  timeoutMs: z
    .number()
    .int()
    .min(10)
    .max(MAX_SCRIPT_TIMEOUT_MS)
    .optional()
    .describe(`Wall-clock limit in ms, at most ${MAX_SCRIPT_TIMEOUT_MS}; default 2000.`),
});

/** Output of `run_javascript`: the returned JSON value (`null` if nothing returned), console lines and time in ms. */
export interface RunJavascriptOutput {
  readonly result: unknown;
  readonly logs: string[];
  readonly durationMs: number;
}

// Written for the model: what exists in the sandbox, what does not, and the limits it will hit.
const describe = (limits: Sandbox["limits"]): string =>
  [
    "Runs a JavaScript function body in an isolated sandbox (QuickJS, ES2023) and returns its `return` value.",
    "Globals: `inputs` (outputs of this step's dependency steps, keyed by step id), `data` (the `data` argument),",
    `\`console.log\` (captured: first ${limits.maxLogLines} lines, ${limits.maxLogLineChars} chars each).`,
    "`inputs` and `data` are deep-frozen: copy before mutating (e.g. `[...inputs.s1.rows].sort(...)`).",
    "No I/O: no fetch, require, import, fs, process or timers. `await` works only on already-settled promises.",
    `Return a JSON value (object, array, string, number, boolean or null), at most ${limits.maxResultBytes} bytes as JSON.`,
    `Limits: ${limits.memoryLimitBytes / 2 ** 20} MiB memory, \`timeoutMs\` (default ${limits.defaultTimeoutMs} ms, at most ${MAX_SCRIPT_TIMEOUT_MS}).`,
    "Example: `const rows = inputs.monthly.rows; return rows.reduce((s, r) => s + r.total, 0) / rows.length;`",
  ].join(" ");

/**
 * Creates the `run_javascript` tool on a {@link Sandbox}: risk tier "compute", idempotent, tool timeout 15,000 ms
 * (a backstop: the sandbox stops a script at its `timeoutMs`, its thread at most 1,000 ms later; the rest covers
 * waiting behind the same step's other calls, which an LLM turn may make at once). The call's `ctx.inputs`
 * become the global `inputs`; calls of one step (task and step id) run one at a time, on a thread of the
 * sandbox's pool, off the agent's event loop. Fails with ToolError `TOOL_TIMEOUT` or `TOOL_FAILED` as
 * {@link Sandbox.run} does.
 */
export function createRunJavascriptTool(sandbox: Sandbox): Tool<typeof runJavascriptInput, RunJavascriptOutput> {
  return defineTool({
    name: "run_javascript",
    description: describe(sandbox.limits),
    input: runJavascriptInput,
    // Backstop only: the sandbox stops the script (interrupt handler, then its thread) at timeoutMs + 1 s.
    timeoutMs: 15_000,
    riskTier: "compute",
    display: { path: "/result" },
    idempotent: true,
    execute: (args, ctx) =>
      sandbox.run({
        code: args.code,
        data: args.data,
        timeoutMs: args.timeoutMs,
        inputs: ctx.inputs,
        signal: ctx.signal,
        key: JSON.stringify([ctx.taskId, ctx.stepId]),
      }),
  });
}
