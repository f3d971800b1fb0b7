import { BaseServiceEnv, ConfigError, loadConfig } from "@baton/core";
import {
  AnthropicProvider,
  type ChatProvider,
  type ChatRequest,
  checkLlmEnv,
  costUsd,
  createChatProvider,
  DEFAULT_MODELS,
  DEFAULT_PRICES,
  findPrice,
  LlmEnv,
  LlmError,
  llmConfigured,
  llmErrorType,
  mergePrices,
  OpenAIProvider,
  parsePricesJson,
  responseText,
  responseToolCalls,
  toOpenAIParams,
  withTelemetry,
} from "@baton/llm";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import {
  anthropicText,
  anthropicToolUse,
  httpError,
  openaiText,
  openaiToolCalls,
  type Rule,
  type ScriptedLlmServer,
  startScriptedLlmServer,
} from "../support/scripted-llm-server.ts";

let server: ScriptedLlmServer;
beforeAll(async () => {
  server = await startScriptedLlmServer();
});
afterAll(async () => {
  await server.close();
});

type Kind = "anthropic" | "openai";
interface ProviderOptions {
  maxRetries?: number;
  timeoutMs?: number;
}

function makeProvider(kind: Kind, options: ProviderOptions = {}): ChatProvider {
  const common = { maxRetries: options.maxRetries ?? 0, timeoutMs: options.timeoutMs ?? 5_000 };
  return kind === "anthropic"
    ? new AnthropicProvider({ apiKey: "test-key", baseURL: server.anthropicBaseURL, ...common })
    : new OpenAIProvider({ apiKey: "test-key", baseURL: server.openaiBaseURL, ...common });
}

const MODEL: Record<Kind, string> = { anthropic: "claude-haiku-4-5", openai: "gpt-4.1-mini" };

function textBody(kind: Kind, text: string, usage?: Parameters<typeof anthropicText>[1]) {
  return kind === "anthropic" ? anthropicText(text, usage) : openaiText(text, usage);
}

function toolCallsBody(kind: Kind, calls: { id: string; name: string; input: Record<string, unknown> }[]) {
  return kind === "anthropic"
    ? anthropicToolUse(calls)
    : openaiToolCalls(calls.map((c) => ({ id: c.id, name: c.name, arguments: JSON.stringify(c.input) })));
}

function request(kind: Kind, overrides: Partial<ChatRequest> = {}): ChatRequest {
  return {
    model: MODEL[kind],
    system: "You are a test agent.",
    messages: [{ role: "user", content: [{ type: "text", text: "Hello there" }] }],
    maxTokens: 256,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmError);
    return error as LlmError;
  }
  throw new Error("expected the call to fail");
}

const searchSchema = z.object({
  query: z.string().describe("What to look for"),
  limit: z.number().int().min(1).max(20).default(5),
});
const TOOLS = [
  { name: "search", description: "Search the web", inputSchema: z.toJSONSchema(searchSchema, { io: "input" }) },
  {
    name: "calculator",
    description: "Evaluate arithmetic",
    inputSchema: z.toJSONSchema(z.object({ expression: z.string() }), { io: "input" }),
  },
];

describe.each<Kind>(["anthropic", "openai"])("%s provider through the real SDK", (kind) => {
  beforeEach(() => server.reset([]));

  it("returns a text reply with usage, id and the model", async () => {
    server.reset([{ name: "hello", when: { api: kind, lastUserIncludes: "Hello" }, respond: { body: textBody(kind, "Hi!") } }]);
    const response = await makeProvider(kind).chat(request(kind));
    expect(responseText(response)).toBe("Hi!");
    expect(response.stopReason).toBe("end_turn");
    expect(response.model).toBe(MODEL[kind]);
    expect(response.id).toMatch(/scripted/);
    expect(response.usage).toEqual({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 });
    expect(server.requests).toHaveLength(1);
    const recorded = server.requests[0];
    expect(recorded?.path).toBe(kind === "anthropic" ? "/v1/messages" : "/v1/chat/completions");
    expect(recorded?.headers.authorization).toBe("Bearer test-key");
    expect(recorded?.rule).toBe("hello");
  });

  it("parses a turn with two tool calls in order, unknown tool names included", async () => {
    server.reset([
      {
        name: "two-calls",
        respond: {
          body: toolCallsBody(kind, [
            { id: "id_1", name: "search", input: { query: "nats jetstream" } },
            { id: "id_2", name: "no_such_tool", input: { x: 1 } },
          ]),
        },
      },
    ]);
    const response = await makeProvider(kind).chat(request(kind, { tools: TOOLS }));
    expect(response.stopReason).toBe("tool_use");
    expect(responseToolCalls(response)).toEqual([
      { type: "tool_call", id: "id_1", name: "search", arguments: { query: "nats jetstream" } },
      { type: "tool_call", id: "id_2", name: "no_such_tool", arguments: { x: 1 } },
    ]);
  });

  it("fails a 400 at once: not retryable, no SDK retry", async () => {
    server.reset([{ name: "bad", respond: httpError(400, "messages: field required") }]);
    const error = await failure(makeProvider(kind, { maxRetries: 3 }).chat(request(kind)));
    expect(error.retryable).toBe(false);
    expect(error.status).toBe(400);
    expect(error.message).toContain("messages: field required");
    expect(llmErrorType(error)).toBe("400");
    expect(server.requests).toHaveLength(1);
  });

  it("lets the SDK retry a 429 with retry-after: 0, then succeeds", async () => {
    server.reset([
      {
        name: "rate-limited-once",
        respond: { sequence: [httpError(429, "slow down", { "retry-after": "0" }), { body: textBody(kind, "after retry") }] },
      },
    ]);
    const response = await makeProvider(kind, { maxRetries: 2 }).chat(request(kind));
    expect(responseText(response)).toBe("after retry");
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]?.headers["x-stainless-retry-count"]).toBe("1");
  });

  it("waits as long as retry-after-ms asks before the retry", async () => {
    server.reset([
      {
        name: "rate-limited-300ms",
        respond: { sequence: [httpError(429, "slow down", { "retry-after-ms": "300" }), { body: textBody(kind, "ok") }] },
      },
    ]);
    const started = performance.now();
    await makeProvider(kind, { maxRetries: 1 }).chat(request(kind));
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(server.requests).toHaveLength(2);
  });

  it("lets the SDK retry a 500, then succeeds", async () => {
    server.reset([
      {
        name: "server-error-once",
        respond: { sequence: [httpError(500, "overloaded", { "retry-after-ms": "1" }), { body: textBody(kind, "recovered") }] },
      },
    ]);
    const response = await makeProvider(kind, { maxRetries: 2 }).chat(request(kind));
    expect(responseText(response)).toBe("recovered");
    expect(server.requests).toHaveLength(2);
  });

  it("reports a 429 that outlasts the SDK's retries as a retryable LlmError", async () => {
    server.reset([{ name: "always-429", respond: httpError(429, "rate limited", { "retry-after-ms": "1" }) }]);
    const error = await failure(makeProvider(kind, { maxRetries: 1 }).chat(request(kind)));
    expect(error.retryable).toBe(true);
    expect(error.status).toBe(429);
    expect(server.requests).toHaveLength(2);
  });

  it("times out a slow server: retryable LlmError", async () => {
    server.reset([{ name: "slow", respond: { delayMs: 1_500, body: textBody(kind, "too late") } }]);
    const started = performance.now();
    const error = await failure(makeProvider(kind, { timeoutMs: 200 }).chat(request(kind)));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/timed out/);
    expect(llmErrorType(error)).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(1_400);
  });

  it("cancels through the request's AbortSignal: not retryable", async () => {
    server.reset([{ name: "slow", respond: { delayMs: 2_000, body: textBody(kind, "too late") } }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(makeProvider(kind, { maxRetries: 3 }).chat(request(kind, { signal: controller.signal })));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe("cancelled");
    expect(llmErrorType(error)).toBe("cancelled");
    expect(server.requests).toHaveLength(1);

    const aborted = await failure(makeProvider(kind).chat(request(kind, { signal: AbortSignal.abort() })));
    expect(aborted.message).toBe("cancelled");
  });

  it("fails loudly, without retries, when no rule matches", async () => {
    server.reset([{ name: "only-for-weather", when: { lastUserIncludes: "weather" }, respond: { body: textBody(kind, "x") } }]);
    const error = await failure(makeProvider(kind, { maxRetries: 3 }).chat(request(kind)));
    expect(error.message).toContain("no rule matched");
    expect(error.message).toContain('lastUser="Hello there"');
    expect(error.message).toContain("only-for-weather");
    expect(server.requests).toHaveLength(1);
    expect(server.unmatched).toHaveLength(1);
  });

  it("reports usage with cache tokens and prices it from the table", async () => {
    const usage = { inputTokens: 1_000, outputTokens: 500, cacheReadTokens: 2_000, cacheWriteTokens: kind === "anthropic" ? 400 : 0 };
    server.reset([{ name: "usage", respond: { body: { ...textBody(kind, "priced", usage), model: `${MODEL[kind]}-2025-01-01` } } }]);
    const response = await makeProvider(kind).chat(request(kind));
    expect(response.usage).toEqual(usage);
    expect(response.model).toBe(`${MODEL[kind]}-2025-01-01`);
    // haiku-4-5: $1 in / $5 out, reads 0.1×, writes 1.25×; gpt-4.1-mini: $0.40 / $1.60, cached 0.25×.
    const expected = kind === "anthropic" ? (1_000 + 200 + 500 + 2_500) / 1e6 : (400 + 200 + 800) / 1e6;
    expect(response.costUsd).toBeCloseTo(expected, 12);
  });
});

describe("anthropic request mapping", () => {
  beforeEach(() => server.reset([{ name: "ok", respond: { body: anthropicText("ok") } }]));

  it("marks the system prompt and the last tool for prompt caching; tools come from zod schemas", async () => {
    await makeProvider("anthropic").chat(request("anthropic", { tools: TOOLS }));
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect(body.system).toEqual([{ type: "text", text: "You are a test agent.", cache_control: { type: "ephemeral" } }]);
    const tools = body.tools as Record<string, unknown>[];
    expect(tools.map((t) => t.name)).toEqual(["search", "calculator"]);
    expect(tools[0]?.cache_control).toBeUndefined();
    expect(tools[1]?.cache_control).toEqual({ type: "ephemeral" });
    expect(tools[0]?.description).toBe("Search the web");
    const schema = tools[0]?.input_schema as Record<string, unknown>;
    expect(schema.type).toBe("object");
    expect(schema.$schema).toBeUndefined();
    expect(schema.required).toEqual(["query"]);
    expect(schema.properties).toMatchObject({ query: { type: "string", description: "What to look for" }, limit: { default: 5 } });
    expect(body.tool_choice).toBeUndefined();
    expect(body.max_tokens).toBe(256);
  });

  it("forces a tool for structured output", async () => {
    server.reset([
      {
        name: "forced",
        when: { forcedTool: "calculator" },
        respond: { body: anthropicToolUse([{ name: "calculator", input: { expression: "1+1" } }]) },
      },
    ]);
    const response = await makeProvider("anthropic").chat(request("anthropic", { tools: TOOLS, forceTool: "calculator" }));
    expect(server.requests[0]?.body.tool_choice).toEqual({ type: "tool", name: "calculator" });
    expect(responseToolCalls(response)[0]?.arguments).toEqual({ expression: "1+1" });
  });

  it("round-trips tool calls and results: tool_use in assistant turns, tool_result with is_error in user turns", async () => {
    await makeProvider("anthropic").chat(
      request("anthropic", {
        tools: TOOLS,
        messages: [
          { role: "user", content: [{ type: "text", text: "Find it" }] },
          {
            role: "assistant",
            content: [
              { type: "text", text: "Searching." },
              { type: "tool_call", id: "toolu_a", name: "search", arguments: { query: "q" } },
              { type: "tool_call", id: "toolu_b", name: "calculator", arguments: { expression: "1/0" } },
            ],
          },
          { role: "user", content: [{ type: "tool_result", toolCallId: "toolu_a", content: "3 results" }] },
          {
            role: "user",
            content: [
              { type: "text", text: "Also this." },
              { type: "tool_result", toolCallId: "toolu_b", content: "division by zero", isError: true },
            ],
          },
        ],
      }),
    );
    const messages = server.requests[0]?.body.messages;
    expect(messages).toEqual([
      { role: "user", content: [{ type: "text", text: "Find it" }] },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Searching." },
          { type: "tool_use", id: "toolu_a", name: "search", input: { query: "q" } },
          { type: "tool_use", id: "toolu_b", name: "calculator", input: { expression: "1/0" } },
        ],
      },
      {
        // Consecutive user turns merged; tool results first, then text.
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_a", content: "3 results" },
          { type: "tool_result", tool_use_id: "toolu_b", content: "division by zero", is_error: true },
          { type: "text", text: "Also this." },
        ],
      },
    ]);
    expect(server.requests[0]?.summary.toolResultsCount).toBe(2);
  });
});

describe("openai request mapping", () => {
  beforeEach(() => server.reset([{ name: "ok", respond: { body: openaiText("ok") } }]));

  it("sends the system message, function tools from zod schemas and no tool_choice by default", async () => {
    await makeProvider("openai").chat(request("openai", { tools: TOOLS, temperature: 0.2 }));
    const body = server.requests[0]?.body as Record<string, unknown>;
    expect((body.messages as unknown[])[0]).toEqual({ role: "system", content: "You are a test agent." });
    const tools = body.tools as { type: string; function: { name: string; description: string; parameters: Record<string, unknown> } }[];
    expect(tools[0]?.type).toBe("function");
    expect(tools[0]?.function.name).toBe("search");
    expect(tools[0]?.function.description).toBe("Search the web");
    expect(tools[0]?.function.parameters.$schema).toBeUndefined();
    expect(tools[0]?.function.parameters.required).toEqual(["query"]);
    expect(body.tool_choice).toBeUndefined();
    expect(body.temperature).toBe(0.2);
    // A custom baseURL (OpenAI-compatible server) gets the widely supported max_tokens.
    expect(body.max_tokens).toBe(256);
  });

  it("forces a tool for structured output", async () => {
    server.reset([
      {
        name: "forced",
        when: { forcedTool: "calculator" },
        respond: { body: openaiToolCalls([{ name: "calculator", arguments: '{"expression":"2*3"}' }]) },
      },
    ]);
    const response = await makeProvider("openai").chat(request("openai", { tools: TOOLS, forceTool: "calculator" }));
    expect(server.requests[0]?.body.tool_choice).toEqual({ type: "function", function: { name: "calculator" } });
    expect(responseToolCalls(response)[0]?.arguments).toEqual({ expression: "2*3" });
  });

  it("round-trips tool calls and results: tool_calls on the assistant, role tool with tool_call_id", async () => {
    await makeProvider("openai").chat(
      request("openai", {
        messages: [
          { role: "user", content: [{ type: "text", text: "Find it" }] },
          {
            role: "assistant",
            content: [
              { type: "tool_call", id: "call_a", name: "search", arguments: { query: "q" } },
              { type: "tool_call", id: "call_b", name: "calculator", arguments: { expression: "1/0" } },
            ],
          },
          {
            role: "user",
            content: [
              { type: "tool_result", toolCallId: "call_a", content: "3 results" },
              { type: "tool_result", toolCallId: "call_b", content: "division by zero", isError: true },
            ],
          },
        ],
      }),
    );
    expect(server.requests[0]?.body.messages).toEqual([
      { role: "system", content: "You are a test agent." },
      { role: "user", content: "Find it" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "search", arguments: '{"query":"q"}' } },
          { id: "call_b", type: "function", function: { name: "calculator", arguments: '{"expression":"1/0"}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_a", content: "3 results" },
      { role: "tool", tool_call_id: "call_b", content: "ERROR: division by zero" },
    ]);
    expect(server.requests[0]?.summary.lastUser).toContain("division by zero");
  });

  it("turns arguments that are not JSON into parseError, without throwing", async () => {
    server.reset([
      {
        name: "broken-args",
        respond: {
          body: openaiToolCalls([
            { id: "call_1", name: "search", arguments: "{oops" },
            { id: "call_2", name: "search", arguments: "[1,2]" },
            { id: "call_3", name: "calculator", arguments: "" },
          ]),
        },
      },
    ]);
    const calls = responseToolCalls(await makeProvider("openai").chat(request("openai", { tools: TOOLS })));
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({ id: "call_1", name: "search", arguments: {} });
    expect(calls[0]?.parseError).toMatch(/not valid JSON.*\{oops/);
    expect(calls[1]?.parseError).toMatch(/not a JSON object/);
    expect(calls[2]).toEqual({ type: "tool_call", id: "call_3", name: "calculator", arguments: {} });
  });

  it("uses max_completion_tokens for api.openai.com (reasoning models reject max_tokens)", () => {
    const params = toOpenAIParams(request("openai"));
    expect(params.max_completion_tokens).toBe(256);
    expect(params.max_tokens).toBeUndefined();
  });
});

describe("fixtures", () => {
  it("replays a two-round tool loop from test/fixtures/llm/provider-smoke.json on both APIs", async () => {
    await using fixtureServer = await startScriptedLlmServer({ fixture: "provider-smoke" });
    const weatherTool = {
      name: "get_weather",
      description: "Weather of a city",
      inputSchema: { type: "object", properties: { city: { type: "string" } } },
    };
    for (const kind of ["anthropic", "openai"] as const) {
      const provider =
        kind === "anthropic"
          ? new AnthropicProvider({ apiKey: "k", baseURL: fixtureServer.anthropicBaseURL, maxRetries: 0 })
          : new OpenAIProvider({ baseURL: fixtureServer.openaiBaseURL, maxRetries: 0 });
      const first = await provider.chat(
        request(kind, {
          tools: [weatherTool],
          messages: [{ role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] }],
        }),
      );
      const [call] = responseToolCalls(first);
      expect(call).toMatchObject({ name: "get_weather", arguments: { city: "Paris" } });
      const second = await provider.chat(
        request(kind, {
          tools: [weatherTool],
          messages: [
            { role: "user", content: [{ type: "text", text: "What is the weather in Paris?" }] },
            { role: "assistant", content: first.content },
            { role: "user", content: [{ type: "tool_result", toolCallId: call?.id ?? "", content: "18°C, sunny" }] },
          ],
        }),
      );
      expect(responseText(second)).toBe("It is 18°C and sunny in Paris.");
      expect(second.usage.inputTokens).toBe(160);
    }
    expect(fixtureServer.requests.map((r) => r.rule)).toEqual([
      "anthropic: ask for the weather",
      "anthropic: answer from the tool result",
      "openai: ask for the weather",
      "openai: answer from the tool result",
    ]);
  });
});

describe("pricing", () => {
  const usage = { inputTokens: 1_000_000, outputTokens: 1_000_000, cacheReadTokens: 0, cacheWriteTokens: 0 };

  it("matches dated model ids by prefix, longest first, at a separator", () => {
    expect(findPrice("claude-sonnet-4-5-20250929")?.key).toBe("claude-sonnet-4-5");
    expect(findPrice("claude-haiku-4-5-20251001")?.key).toBe("claude-haiku-4-5");
    expect(findPrice("gpt-4o-mini-2024-07-18")?.key).toBe("gpt-4o-mini");
    expect(findPrice("gpt-4.1-2025-04-14")?.key).toBe("gpt-4.1");
    expect(findPrice("gpt-5.1")).toBeUndefined();
    expect(costUsd("claude-opus-4-1", usage)).toEqual({ usd: 90, priced: true, priceKey: "claude-opus-4-1" });
    expect(costUsd("gpt-5-mini", usage).usd).toBeCloseTo(2.25, 10);
  });

  it("prices unknown models at 0 with priced: false", () => {
    expect(costUsd("llama3.1:8b", usage)).toEqual({ usd: 0, priced: false });
  });

  it("applies LLM_PRICES_JSON overrides, keeping default cache multipliers", () => {
    const overrides = parsePricesJson(
      '{"llama3.1": {"inputPerMTok": 0.1, "outputPerMTok": 0.2}, "claude-haiku-4-5": {"inputPerMTok": 2, "outputPerMTok": 10}}',
    );
    const table = mergePrices(overrides);
    expect(costUsd("llama3.1:8b", usage, table).usd).toBeCloseTo(0.3, 10);
    expect(table["claude-haiku-4-5"]).toEqual({ inputPerMTok: 2, outputPerMTok: 10, cacheReadMultiplier: 0.1, cacheWriteMultiplier: 1.25 });
    expect(DEFAULT_PRICES["claude-haiku-4-5"]?.inputPerMTok).toBe(1);
    expect(() => parsePricesJson('{"m": {"inputPerMTok": -1}}')).toThrow(ConfigError);
    expect(() => parsePricesJson("{nope")).toThrow(/not JSON/);
  });

  it("rejects a bad LLM_PRICES_JSON at config load, naming the variable", () => {
    expect(() => loadConfig(LlmEnv, { LLM_PRICES_JSON: '{"m": {"input": 1}}' })).toThrow(/LLM_PRICES_JSON/);
  });
});

describe("config", () => {
  const ServiceEnv = BaseServiceEnv.extend(LlmEnv.shape);
  const CheckedEnv = BaseServiceEnv.extend(LlmEnv.shape).superRefine(checkLlmEnv);

  it("applies defaults", () => {
    const env = loadConfig(ServiceEnv, {});
    expect(env.LLM_TIMEOUT_MS).toBe(60_000);
    expect(env.LLM_MAX_RETRIES).toBe(3);
    expect(env.LLM_MAX_OUTPUT_TOKENS).toBe(4096);
    expect(env.LLM_CAPTURE_CONTENT).toBe(false);
    expect(llmConfigured(env)).toBe(false);
    expect(createChatProvider(env)).toBeUndefined();
  });

  it("auto-detects the provider and picks per-role models", () => {
    const anthropic = createChatProvider(loadConfig(ServiceEnv, { ANTHROPIC_API_KEY: "sk-ant", OPENAI_API_KEY: "sk-oai" }));
    expect(anthropic?.provider.name).toBe("anthropic");
    expect(anthropic?.models).toEqual(DEFAULT_MODELS.anthropic);
    expect(anthropic?.models.planner).not.toBe(anthropic?.models.synthesizer);

    const openai = createChatProvider(loadConfig(ServiceEnv, { OPENAI_API_KEY: "sk-oai" }));
    expect(openai?.provider.name).toBe("openai");
    expect(openai?.models).toEqual(DEFAULT_MODELS.openai);

    const local = createChatProvider(
      loadConfig(ServiceEnv, { OPENAI_BASE_URL: "http://127.0.0.1:11434/v1", LLM_MODEL_WORKER: "qwen3:8b", LLM_MAX_OUTPUT_TOKENS: "1024" }),
    );
    expect(local?.provider.name).toBe("openai");
    expect(local?.models).toEqual({ ...DEFAULT_MODELS.openai, worker: "qwen3:8b" });
    expect(local?.maxOutputTokens).toBe(1024);
    expect(local?.settings.apiKey).toBeUndefined();

    const forced = createChatProvider(loadConfig(ServiceEnv, { LLM_PROVIDER: "openai", ANTHROPIC_API_KEY: "a", OPENAI_API_KEY: "o" }));
    expect(forced?.provider.name).toBe("openai");
  });

  it("rejects LLM_PROVIDER=anthropic without a key, naming the variable", () => {
    const env = loadConfig(ServiceEnv, { LLM_PROVIDER: "anthropic" });
    expect(llmConfigured(env)).toBe(true);
    expect(() => createChatProvider(env)).toThrow(ConfigError);
    expect(() => createChatProvider(env)).toThrow(/ANTHROPIC_API_KEY/);
    expect(() => loadConfig(CheckedEnv, { LLM_PROVIDER: "anthropic" })).toThrow(/ANTHROPIC_API_KEY: LLM_PROVIDER=anthropic/);
    expect(() => loadConfig(CheckedEnv, { LLM_PROVIDER: "openai" })).toThrow(/OPENAI_API_KEY/);
    expect(() => loadConfig(ServiceEnv, { LLM_PROVIDER: "gemini" })).toThrow(/LLM_PROVIDER="gemini"/);
  });

  it("builds a working provider from the env: OPENAI_BASE_URL without a key, LLM_TIMEOUT_MS, LLM_PRICES_JSON", async () => {
    server.reset([{ name: "local", respond: { body: openaiText("from a local model", { inputTokens: 1_000_000, outputTokens: 0 }) } }]);
    const setup = createChatProvider(
      loadConfig(ServiceEnv, {
        OPENAI_BASE_URL: server.openaiBaseURL,
        LLM_MODEL_WORKER: "llama3.1:8b",
        LLM_PRICES_JSON: '{"llama3.1": {"inputPerMTok": 0.5, "outputPerMTok": 1}}',
      }),
    );
    const response = await setup?.provider.chat({
      model: setup.models.worker,
      messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
      maxTokens: 10,
    });
    expect(responseText(response ?? { content: [] })).toBe("from a local model");
    expect(response?.costUsd).toBeCloseTo(0.5, 10);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer not-needed");
    expect(server.requests[0]?.body.model).toBe("llama3.1:8b");

    server.reset([{ name: "slow", respond: { delayMs: 1_000, body: anthropicText("late") } }]);
    const slow = createChatProvider(
      loadConfig(ServiceEnv, {
        ANTHROPIC_API_KEY: "k",
        ANTHROPIC_BASE_URL: server.anthropicBaseURL,
        LLM_TIMEOUT_MS: "150",
        LLM_MAX_RETRIES: "0",
      }),
    );
    const error = await failure(
      slow?.provider.chat({
        model: "claude-haiku-4-5",
        messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }],
        maxTokens: 10,
      }) ?? Promise.resolve(),
    );
    expect(error.retryable).toBe(true);
  });
});

describe("telemetry", () => {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

  beforeAll(() => {
    trace.disable();
    context.disable();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(tracerProvider);
  });
  afterAll(async () => {
    await tracerProvider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  const secretPrompt = "the launch code is 0000";
  const attributed = (kind: Kind): ChatRequest =>
    request(kind, {
      temperature: 0.3,
      messages: [{ role: "user", content: [{ type: "text", text: secretPrompt }] }],
      attribution: { taskId: "task-1", stepId: "step-2", agent: "research", role: "worker" },
    });

  it.each<Kind>(["anthropic", "openai"])(
    "records a %s call as a GenAI CLIENT span under the active span, without content",
    async (kind) => {
      server.reset([{ name: "u", respond: { body: textBody(kind, "done", { inputTokens: 100, outputTokens: 20, cacheReadTokens: 50 }) } }]);
      const provider = withTelemetry(makeProvider(kind));
      const tracer = trace.getTracer("test");
      await tracer.startActiveSpan("step", async (parent) => {
        await provider.chat(attributed(kind));
        parent.end();
      });
      const spans = exporter.getFinishedSpans();
      const span = spans.find((s) => s.name === `chat ${MODEL[kind]}`);
      const parent = spans.find((s) => s.name === "step");
      expect(span).toBeDefined();
      expect(span?.kind).toBe(SpanKind.CLIENT);
      expect(span?.instrumentationScope.name).toBe("@baton/llm");
      expect(span?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
      expect(span?.attributes).toMatchObject({
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": kind,
        "gen_ai.system": kind,
        "gen_ai.request.model": MODEL[kind],
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.3,
        "gen_ai.response.model": MODEL[kind],
        "gen_ai.response.finish_reasons": ["end_turn"],
        "gen_ai.usage.input_tokens": 150,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 50,
        "gen_ai.agent.name": "research",
        "baton.task.id": "task-1",
        "baton.step.id": "step-2",
        "baton.llm.role": "worker",
      });
      expect(String(span?.attributes["gen_ai.response.id"])).toMatch(/scripted/);
      expect(span?.attributes["baton.cost_usd"]).toBeGreaterThan(0);
      expect(span?.events).toEqual([]);
      expect(JSON.stringify(span?.attributes)).not.toContain(secretPrompt);
      // Only our span: the Anthropic SDK's own call span is turned off.
      expect(spans).toHaveLength(2);
    },
  );

  it("records content as events only when captureContent is true", async () => {
    server.reset([{ name: "u", respond: { body: anthropicText("the answer") } }]);
    await withTelemetry(makeProvider("anthropic"), { captureContent: true }).chat(attributed("anthropic"));
    const [span] = exporter.getFinishedSpans();
    expect(span?.events.map((e) => e.name)).toEqual(["gen_ai.content.prompt", "gen_ai.content.completion"]);
    expect(String(span?.events[0]?.attributes?.["gen_ai.prompt"])).toContain(secretPrompt);
    expect(String(span?.events[1]?.attributes?.["gen_ai.completion"])).toContain("the answer");
  });

  it("marks a failed call with status ERROR and error.type", async () => {
    server.reset([{ name: "bad", respond: httpError(401, "invalid x-api-key") }]);
    await failure(withTelemetry(makeProvider("openai")).chat(attributed("openai")));
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(SpanStatusCode.ERROR);
    expect(span?.attributes["error.type"]).toBe("401");
    expect(span?.events.map((e) => e.name)).toEqual(["exception"]);
  });
});

describe("scripted server rules", () => {
  it("matches on system, tools, tool-result count and honours times", async () => {
    const rules: Rule[] = [
      {
        name: "first",
        when: { systemIncludes: "planner", tools: ["search"], toolResultsCount: 0 },
        times: 1,
        respond: { body: anthropicText("one") },
      },
      { name: "fallback", when: { anyMessageIncludes: "Hello" }, respond: (r) => ({ body: anthropicText(`echo ${r.summary.lastUser}`) }) },
    ];
    server.reset(rules);
    const provider = makeProvider("anthropic");
    const planner = request("anthropic", { system: "You are the planner", tools: TOOLS });
    expect(responseText(await provider.chat(planner))).toBe("one");
    expect(responseText(await provider.chat(planner))).toBe("echo Hello there");
    expect(server.requests.map((r) => r.rule)).toEqual(["first", "fallback"]);
  });
});
