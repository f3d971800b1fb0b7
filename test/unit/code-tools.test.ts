import type { ToolCallResult } from "@baton/contracts";
import { createCodeTools, createSandbox } from "../../services/code-agent/src/tools/index.ts";
import { executeToolCall, type ToolContext, ToolRegistry } from "@baton/tools";
import { beforeAll, describe, expect, it } from "vitest";

const inputs = {
  monthly: {
    rows: [
      { m: 1, t: 5 },
      { m: 2, t: 7 },
    ],
  },
};
const ctx = (): ToolContext => ({ signal: new AbortController().signal, taskId: "t", stepId: "s", inputs });

let registry: ToolRegistry;
beforeAll(async () => {
  registry = new ToolRegistry(await createCodeTools());
});

const call = (tool: string, args: Record<string, unknown>, context = ctx()): Promise<ToolCallResult> =>
  executeToolCall(registry, { tool, args }, context);
const js = (code: string, extra: Record<string, unknown> = {}) => call("run_javascript", { code, ...extra });

function ok(r: ToolCallResult): Record<string, unknown> {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.output as Record<string, unknown>;
}
function err(r: ToolCallResult): { code: string; message: string } {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.output)}`);
  return r.error;
}

describe("run_javascript", () => {
  it("computes with the dependencies' outputs", async () => {
    const out = ok(await js("const rows = inputs.monthly.rows; return rows.reduce((s, r) => s + r.t, 0) / rows.length;"));
    expect(out.result).toBe(6);
    expect(out.logs).toEqual([]);
    expect(out.durationMs).toBeTypeOf("number");
  });

  it("captures console.log, bounded", async () => {
    const out = ok(await js('console.log("n =", 2, { a: [1] }); console.error("x".repeat(600)); return null;'));
    expect(out.logs).toEqual(['n = 2 {"a":[1]}', `${"x".repeat(500)}…`]);
    const many = ok(await js("for (let i = 0; i < 1000; i++) console.log(i);"));
    expect(many.logs).toHaveLength(100);
    expect((many.logs as string[])[99]).toMatch(/901 more log lines dropped/);
    expect(many.result).toBeNull();
  });

  it("exposes the data argument and supports await", async () => {
    const out = ok(await js("const x = await Promise.resolve(data.k); return { doubled: x * 2 };", { data: { k: 21 } }));
    expect(out.result).toEqual({ doubled: 42 });
  });

  it("stops an infinite loop with TOOL_TIMEOUT", async () => {
    const started = performance.now();
    const e = err(await js("while (true) {}", { timeoutMs: 200 }));
    const elapsed = performance.now() - started;
    expect(e.code).toBe("TOOL_TIMEOUT");
    expect(e.message).toBe("script exceeded its 200 ms time limit");
    expect(elapsed).toBeLessThan(3_000);
    const def = performance.now();
    expect(err(await js("for (;;) { Math.random(); }")).message).toBe("script exceeded its 2000 ms time limit");
    expect(performance.now() - def).toBeLessThan(3_000);
  });

  it("refuses to exceed the memory limit", async () => {
    const e = err(await js("return new ArrayBuffer(1024 * 1024 * 1024).byteLength;"));
    expect(e.code).toBe("TOOL_FAILED");
    expect(e.message).toMatch(/^memory limit exceeded \(67108864 bytes\)/);
    const retained = err(await js("const a = []; for (;;) a.push(new Float64Array(1 << 17));", { timeoutMs: 5_000 }));
    expect(retained.message).toMatch(/^memory limit exceeded/);
  });

  it("contains deep recursion", async () => {
    const e = err(await js("function f(n) { return f(n + 1) + 1; }\nreturn f(0);"));
    expect(e.code).toBe("TOOL_FAILED");
    expect(e.message).toMatch(/^stack limit exceeded \(262144 bytes\).*line 1/);
    expect(ok(await js("return 1 + 1;")).result).toBe(2); // the host is fine afterwards
  });

  it("contains recursion inside built-ins, which QuickJS's stack limit does not see", async () => {
    const deep = "let o = {}; for (let i = 0; i < 100000; i++) o = { o };\n";
    expect(err(await js(`${deep}return JSON.stringify(o).length;`)).message).toMatch(/^stack limit exceeded/);
    expect(err(await js(`${deep}return o;`)).message).toMatch(/^stack limit exceeded/);
    expect(ok(await js("return 1 + 1;")).result).toBe(2); // on a fresh WASM module
  });

  it("stops endless promise chains with TOOL_TIMEOUT", async () => {
    const e = err(await js("async function f() { await null; return f(); }\nreturn f();", { timeoutMs: 100 }));
    expect(e).toMatchObject({ code: "TOOL_TIMEOUT", message: "script exceeded its 100 ms time limit" });
  });

  it("has no host I/O", async () => {
    const out = ok(
      await js(
        "return [typeof require, typeof process, typeof fetch, typeof setTimeout, typeof setInterval, " +
          "typeof queueMicrotask, typeof module, typeof std, typeof os];",
      ),
    );
    expect(out.result).toEqual(Array(9).fill("undefined"));
    expect(err(await js('return import("fs");')).message).toMatch(/Error/);
  });

  it("does not leak mutations of inputs to the host", async () => {
    const e = err(await js("inputs.monthly.rows[0].t = 99; return 1;"));
    expect(e.code).toBe("TOOL_FAILED");
    expect(e.message).toMatch(/TypeError/);
    err(await js("inputs.monthly.rows.push({ m: 3 });"));
    err(await js("inputs = {};"));
    const out = ok(await js("const r = [...inputs.monthly.rows]; r.push(1); return r.length;"));
    expect(out.result).toBe(3);
    expect(inputs).toEqual({
      monthly: {
        rows: [
          { m: 1, t: 5 },
          { m: 2, t: 7 },
        ],
      },
    });
  });

  it("reports syntax and runtime errors with their line", async () => {
    const syntax = err(await js("const a = 1;\nreturn a +;"));
    expect(syntax.code).toBe("TOOL_FAILED");
    expect(syntax.message).toMatch(/^SyntaxError: .*\(line 2/);
    const runtime = err(await js("const a = null;\n\nreturn a.b;"));
    expect(runtime.message).toMatch(/^TypeError: .*\(line 3/);
    expect(err(await js('throw "plain";')).message).toMatch(/plain/);
    expect(err(await js("return Promise.reject(new RangeError('nope'));")).message).toMatch(/^RangeError: nope/);
  });

  it("handles results that are not JSON", async () => {
    expect(err(await js("return function () {};")).message).toMatch(/not JSON-serializable.*function/);
    expect(err(await js("const o = {}; o.self = o; return o;")).message).toMatch(/not JSON-serializable/);
    expect(err(await js("return new Promise(() => {});")).message).toMatch(/never settles/);
    expect(err(await js('return "x".repeat(300000);')).message).toMatch(/limit is 262144/);
    expect(ok(await js("return undefined;")).result).toBeNull();
  });

  it("refuses arguments outside its schema", async () => {
    expect(err(await js("")).code).toBe("INVALID_ARGUMENTS");
    expect(err(await js("return 1", { timeoutMs: 60_000 })).code).toBe("INVALID_ARGUMENTS");
    expect(err(await call("run_javascript", { source: "return 1" })).code).toBe("INVALID_ARGUMENTS");
  });

  it("stops at once when the step is already cancelled", async () => {
    const controller = new AbortController();
    controller.abort();
    const e = err(await call("run_javascript", { code: "return 1;" }, { ...ctx(), signal: controller.signal }));
    expect(e.code).toBe("TOOL_TIMEOUT");
  });

  it("survives 50 sequential calls of every kind without leaking", async () => {
    const codes = [
      "return inputs.monthly.rows.length;",
      "while (true) {}",
      "function f(n) { return f(n + 1) + 1; } return f(0);",
      "return new ArrayBuffer(1024 * 1024 * 1024);",
      "return a +;",
      "console.log(1); return [1, 2, 3];",
      "return () => 1;",
      "return new Promise(() => {});",
      "throw new Error('x');",
      "return await Promise.all([1, 2].map(async (x) => x * 2));",
      "async function f() { await null; return f(); } return f();",
      "let o = []; for (let i = 0; i < 100000; i++) o = [o]; return JSON.stringify(o);",
    ];
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 50; i++) {
      const r = await js(codes[i % codes.length] ?? "", { timeoutMs: 50 });
      if (i % codes.length === 0) expect(ok(r).result).toBe(2);
      else if (i % codes.length === 9) expect(ok(r).result).toEqual([2, 4]);
      else if (!r.ok) expect(["TOOL_FAILED", "TOOL_TIMEOUT"]).toContain(r.error.code);
    }
    // RSS grows by the WASM heap's high-water mark (it never shrinks), not per call.
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  });
});

describe("sandbox configuration", () => {
  it("refuses stack limits above 256 KiB (and 0, which means unlimited)", async () => {
    await expect(createCodeTools({ maxStackBytes: 512 * 1024 })).rejects.toThrow(RangeError);
    await expect(createSandbox({ maxStackBytes: 256 * 1024 + 1 })).rejects.toThrow(/maxStackBytes/);
    await expect(createSandbox({ maxStackBytes: 0 })).rejects.toThrow(/maxStackBytes/);
    await expect(createSandbox({ maxStackBytes: 128 * 1024 })).resolves.toBeDefined();
  });

  it("applies configured limits", async () => {
    const sandbox = await createSandbox({ memoryLimitBytes: 8 * 1024 * 1024, defaultTimeoutMs: 100 });
    await expect(sandbox.run({ code: "return new Array(4e6).fill(1).length;" })).rejects.toMatchObject({
      code: "TOOL_FAILED",
      message: expect.stringMatching(/memory limit exceeded \(8388608 bytes\)/),
    });
    await expect(sandbox.run({ code: "for (;;) {}" })).rejects.toMatchObject({ code: "TOOL_TIMEOUT" });
  });
});

describe("evaluate_expression", () => {
  const evaluate = (expression: string, scope?: Record<string, unknown>) =>
    call("evaluate_expression", scope ? { expression, scope } : { expression });

  it("evaluates arithmetic", async () => {
    expect(ok(await evaluate("sqrt(16) + 2^3"))).toEqual({ expression: "sqrt(16) + 2^3", result: 12, resultType: "number" });
  });

  it("uses scope variables; assignments do not outlive the call", async () => {
    expect(ok(await evaluate("mean(xs) * k", { xs: [1, 2, 3], k: 10 })).result).toBe(20);
    expect(ok(await evaluate("a = 3; a * b", { b: 2 })).result).toBe(6);
    expect(err(await evaluate("a")).message).toMatch(/Undefined symbol a/);
  });

  it("converts units", async () => {
    const out = ok(await evaluate("5 cm to inch"));
    expect(out.resultType).toBe("Unit");
    expect(out.result).toMatch(/^1\.96850393700\d* inch$/);
  });

  it("returns matrices as arrays and non-finite numbers as strings", async () => {
    expect(ok(await evaluate("[1, 2; 3, 4] * 2")).result).toEqual([
      [2, 4],
      [6, 8],
    ]);
    expect(ok(await evaluate("sum(1:100)")).result).toBe(5050);
    expect(ok(await evaluate("1/0")).result).toBe("Infinity");
  });

  it("refuses dangerous functions", async () => {
    for (const expression of ["import({})", 'evaluate("1")', 'createUnit("x")', 'parse("1")', 'simplify("x+x")']) {
      const e = err(await evaluate(expression));
      expect(e.code).toBe("TOOL_FAILED");
      expect(e.message).toMatch(/is disabled/);
    }
  });

  it("refuses huge arrays up front", async () => {
    expect(err(await evaluate("sum(1:1e9)")).message).toMatch(/range would create/);
    expect(err(await evaluate("zeros(1e5, 1e5)")).message).toMatch(/zeros would create/);
    expect(err(await evaluate("identity(1e4)")).message).toMatch(/identity would create/);
    expect(ok(await evaluate("f(x) = x^2; f(3)")).result).toBe(9);
  });

  it("stops heavy expressions with TOOL_TIMEOUT without blocking this thread", async () => {
    const started = performance.now();
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 50);
    // Broadcasting 3000x3000 takes ~70 s in mathjs; exponential recursion would take days.
    const heavy = err(await evaluate("size(ones(3000, 1) + ones(1, 3000))"));
    const recursion = err(await evaluate("f(x) = x > 0 ? f(x-1) + f(x-1) : 1; f(60)"));
    clearInterval(ticker);
    expect(heavy.code).toBe("TOOL_TIMEOUT");
    expect(recursion.code).toBe("TOOL_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(8_000);
    expect(ticks).toBeGreaterThan(10); // the event loop kept running
    expect(ok(await evaluate("1 + 1")).result).toBe(2); // on a restarted evaluator
  });

  it("contains running out of memory in the evaluator process", async () => {
    const e = err(await evaluate(`size(concat(${Array(40).fill("ones(1000, 1000)").join(", ")}))`));
    expect(["TOOL_FAILED", "TOOL_TIMEOUT"]).toContain(e.code);
    expect(ok(await evaluate("2 * 3")).result).toBe(6);
  });

  it("reports errors and invalid arguments", async () => {
    expect(err(await evaluate("2 +")).code).toBe("TOOL_FAILED");
    expect(err(await evaluate("unknownThing + 1")).message).toMatch(/Undefined symbol/);
    expect(err(await evaluate("")).code).toBe("INVALID_ARGUMENTS");
    expect(err(await call("evaluate_expression", { expression: "x", scope: { x: { a: 1 } } })).code).toBe("INVALID_ARGUMENTS");
  });
});
