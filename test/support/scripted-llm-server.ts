import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";

/**
 * The scripted LLM provider server: a real HTTP server on 127.0.0.1 that speaks the Anthropic
 * Messages API (`POST /v1/messages`) and the OpenAI Chat Completions API
 * (`POST /v1/chat/completions`), so the real SDKs run against it through their `baseURL`. It
 * answers from scripted rules — given in code or in a fixture file
 * `test/fixtures/llm/<name>.json` = `{ "rules": [Rule, …] }` — and records every request.
 *
 * Matching: the first rule whose `when` conditions all hold and which has uses left. A rule with
 * `respond.sequence` answers with its responses in order and is used up after the last one (or
 * after `times`, whichever is first); other rules answer the same way `times` times (default
 * unlimited). No rule matches → HTTP 500 (`x-should-retry: false`, so the SDKs fail at once) with
 * a JSON error naming the request and the rules, and the request lands in `unmatched`.
 *
 * Successful (2xx) JSON bodies are completed before sending: a missing `model` becomes the
 * request's model, a missing `id` a generated one, a missing Anthropic `usage` zeros. Every reply
 * has `content-type: application/json`.
 */

export type LlmApi = "anthropic" | "openai";

/** Conditions of a rule; all given ones must hold. Substring tests are case-sensitive. */
export interface RuleWhen {
  readonly api?: LlmApi;
  /** The system prompt contains this. */
  readonly systemIncludes?: string;
  /**
   * The last user turn contains this: its text and tool-result contents (OpenAI: the trailing
   * `user`/`tool` messages).
   */
  readonly lastUserIncludes?: string;
  /** Any message (not the system prompt) contains this: text, tool results, tool-call arguments. */
  readonly anyMessageIncludes?: string;
  /** Exactly this many tool results in the whole conversation (which round of a tool loop). */
  readonly toolResultsCount?: number;
  /** All these tool names are offered. */
  readonly tools?: readonly string[];
  /** This tool is forced (`tool_choice`). */
  readonly forcedTool?: string;
}

/** One scripted HTTP answer. `delayMs` waits before answering (timeouts, cancellation). */
export interface ScriptedHttpResponse {
  /** Default 200. */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** The provider's JSON (see the body builders below). */
  readonly body?: unknown;
  readonly delayMs?: number;
}

/** What a rule answers: one response, a sequence, or (in code only) a function of the request. */
export type RuleRespond =
  | ScriptedHttpResponse
  | { readonly sequence: readonly ScriptedHttpResponse[] }
  | ((request: RecordedLlmRequest) => ScriptedHttpResponse);

export interface Rule {
  readonly name: string;
  readonly when?: RuleWhen;
  /** How many times the rule may answer; default unlimited (a sequence: its length). */
  readonly times?: number;
  readonly respond: RuleRespond;
}

/** The facts of a request that rules match on (also handy in assertions). */
export interface RequestSummary {
  readonly model: string;
  readonly system: string;
  readonly lastUser: string;
  readonly allMessages: string;
  readonly toolResultsCount: number;
  readonly tools: readonly string[];
  readonly forcedTool: string | undefined;
}

/** A request as the server received it. */
export interface RecordedLlmRequest {
  readonly api: LlmApi;
  readonly path: string;
  readonly body: Record<string, unknown>;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly summary: RequestSummary;
  /** Name of the rule that answered; undefined when none matched. */
  readonly rule: string | undefined;
}

export interface ScriptedLlmServer {
  /** Base URL, e.g. `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** For `new Anthropic({ baseURL })`: the base URL. */
  readonly anthropicBaseURL: string;
  /** For `new OpenAI({ baseURL })` / `OPENAI_BASE_URL`: `<url>/v1`. */
  readonly openaiBaseURL: string;
  /** Every request, in arrival order (including unmatched ones). */
  readonly requests: RecordedLlmRequest[];
  /** Requests no rule matched. */
  readonly unmatched: RecordedLlmRequest[];
  /** Appends rules (after the current ones). */
  addRules(rules: readonly Rule[]): void;
  /** Replaces the rules (when given), resets their use counts and clears the recorded requests. */
  reset(rules?: readonly Rule[]): void;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A scripted Anthropic Messages API reply (`respond` of a rule): an assistant message with
 * `content` blocks, stopping for `stopReason` (`end_turn`, `tool_use`), with the given usage.
 */
export function anthropicReply(content: unknown[], stopReason: "end_turn" | "tool_use", usage = { input_tokens: 200, output_tokens: 40 }) {
  return { body: { type: "message", role: "assistant", content, stop_reason: stopReason, stop_sequence: null, usage } };
}

export interface ScriptedLlmServerOptions {
  /** Fixture name: `test/fixtures/llm/<fixture>.json`. Its rules come before `rules`. */
  readonly fixture?: string;
  readonly rules?: readonly Rule[];
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const FIXTURE_DIR = new URL("../fixtures/llm/", import.meta.url);

const HttpResponseSchema = z
  .object({
    status: z.number().int().min(100).max(599).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.unknown(),
    delayMs: z.number().nonnegative().optional(),
  })
  .strict();

const RuleSchema = z
  .object({
    name: z.string().min(1),
    when: z
      .object({
        api: z.enum(["anthropic", "openai"]).optional(),
        systemIncludes: z.string().optional(),
        lastUserIncludes: z.string().optional(),
        anyMessageIncludes: z.string().optional(),
        toolResultsCount: z.number().int().nonnegative().optional(),
        tools: z.array(z.string()).optional(),
        forcedTool: z.string().optional(),
      })
      .strict()
      .optional(),
    times: z.number().int().positive().optional(),
    respond: z.union([z.object({ sequence: z.array(HttpResponseSchema).min(1) }).strict(), HttpResponseSchema]),
  })
  .strict();

const FixtureSchema = z.object({ rules: z.array(RuleSchema) }).strict();

/**
 * Reads and validates `test/fixtures/llm/<name>.json`.
 * @throws Error naming the file and each invalid field.
 */
export function loadLlmFixture(name: string): Rule[] {
  const url = new URL(`${name}.json`, FIXTURE_DIR);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(url, "utf8"));
  } catch (error) {
    throw new Error(`LLM fixture ${url.pathname}: ${(error as Error).message}`, { cause: error });
  }
  const parsed = FixtureSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new Error(`LLM fixture ${url.pathname} is invalid: ${issues}`);
  }
  return parsed.data.rules;
}

// ---------------------------------------------------------------------------------------------
// Request summaries

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** A string field, or "" when absent or not a string. */
function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Text of Anthropic content (string or blocks): text, tool-result contents, tool-use inputs. */
function anthropicContentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((block) => {
      if (!isObject(block)) return "";
      if (block.type === "text") return str(block.text);
      if (block.type === "tool_result") return anthropicContentText(block.content);
      if (block.type === "tool_use") return JSON.stringify(block.input ?? {});
      return "";
    })
    .join("\n");
}

/** Text of OpenAI message content (string, null or parts). */
function openaiContentText(content: unknown): string {
  if (typeof content === "string") return content;
  return asArray(content)
    .map((part) => (isObject(part) && typeof part.text === "string" ? part.text : ""))
    .join("\n");
}

function summarizeAnthropic(body: Json): RequestSummary {
  const messages = asArray(body.messages).filter(isObject);
  const lastUser = messages.findLast((m) => m.role === "user");
  const toolResultsCount = messages.flatMap((m) => asArray(m.content)).filter((b) => isObject(b) && b.type === "tool_result").length;
  const choice = isObject(body.tool_choice) ? body.tool_choice : undefined;
  return {
    model: str(body.model),
    system: anthropicContentText(body.system),
    lastUser: lastUser ? anthropicContentText(lastUser.content) : "",
    allMessages: messages.map((m) => anthropicContentText(m.content)).join("\n"),
    toolResultsCount,
    tools: asArray(body.tools).flatMap((t) => (isObject(t) && typeof t.name === "string" ? [t.name] : [])),
    forcedTool: choice?.type === "tool" && typeof choice.name === "string" ? choice.name : undefined,
  };
}

function summarizeOpenAI(body: Json): RequestSummary {
  const messages = asArray(body.messages).filter(isObject);
  const isSystem = (m: Json) => m.role === "system" || m.role === "developer";
  const isUserSide = (m: Json) => m.role === "user" || m.role === "tool";
  let end = messages.findLastIndex(isUserSide);
  const lastTurn: Json[] = [];
  while (end >= 0 && messages[end] && isUserSide(messages[end] as Json)) lastTurn.unshift(messages[end--] as Json);
  const messageText = (m: Json) =>
    [
      openaiContentText(m.content),
      ...asArray(m.tool_calls).map((c) => (isObject(c) && isObject(c.function) ? str(c.function.arguments) : "")),
    ]
      .filter(Boolean)
      .join("\n");
  const choice = isObject(body.tool_choice) ? body.tool_choice : undefined;
  return {
    model: str(body.model),
    system: messages
      .filter(isSystem)
      .map((m) => openaiContentText(m.content))
      .join("\n"),
    lastUser: lastTurn.map((m) => openaiContentText(m.content)).join("\n"),
    allMessages: messages
      .filter((m) => !isSystem(m))
      .map(messageText)
      .join("\n"),
    toolResultsCount: messages.filter((m) => m.role === "tool").length,
    tools: asArray(body.tools).flatMap((t) => {
      if (!isObject(t)) return [];
      const name = isObject(t.function) ? t.function.name : t.name;
      return typeof name === "string" ? [name] : [];
    }),
    forcedTool:
      choice?.type === "function" && isObject(choice.function) && typeof choice.function.name === "string"
        ? choice.function.name
        : undefined,
  };
}

function matches(when: RuleWhen | undefined, api: LlmApi, s: RequestSummary): boolean {
  if (!when) return true;
  if (when.api !== undefined && when.api !== api) return false;
  if (when.systemIncludes !== undefined && !s.system.includes(when.systemIncludes)) return false;
  if (when.lastUserIncludes !== undefined && !s.lastUser.includes(when.lastUserIncludes)) return false;
  if (when.anyMessageIncludes !== undefined && !s.allMessages.includes(when.anyMessageIncludes)) return false;
  if (when.toolResultsCount !== undefined && when.toolResultsCount !== s.toolResultsCount) return false;
  if (when.tools !== undefined && !when.tools.every((t) => s.tools.includes(t))) return false;
  if (when.forcedTool !== undefined && when.forcedTool !== s.forcedTool) return false;
  return true;
}

function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}…`;
}

// ---------------------------------------------------------------------------------------------
// Server

interface RuleState {
  rule: Rule;
  used: number;
}

function usesLeft(state: RuleState): boolean {
  const { rule, used } = state;
  if (rule.times !== undefined && used >= rule.times) return false;
  if (typeof rule.respond === "object" && "sequence" in rule.respond) return used < rule.respond.sequence.length;
  return true;
}

const PATHS: Record<string, LlmApi> = { "/v1/messages": "anthropic", "/v1/chat/completions": "openai" };

let generatedId = 0;

/** Starts the server on 127.0.0.1 and a free port. */
export async function startScriptedLlmServer(options: ScriptedLlmServerOptions = {}): Promise<ScriptedLlmServer> {
  let rules: RuleState[] = [];
  const setRules = (list: readonly Rule[]) => {
    rules = list.map((rule) => ({ rule, used: 0 }));
  };
  setRules([...(options.fixture ? loadLlmFixture(options.fixture) : []), ...(options.rules ?? [])]);
  const requests: RecordedLlmRequest[] = [];
  const unmatched: RecordedLlmRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}) => {
    if (res.destroyed || res.writableEnded) return;
    const text = typeof body === "string" ? body : JSON.stringify(body ?? {});
    res.writeHead(status, { ...headers, "content-type": "application/json" });
    res.end(text);
  };
  const errorBody = (type: string, message: string) => ({ type: "error", error: { type, message } });

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const api = PATHS[path];
    if (req.method !== "POST" || !api) {
      send(
        res,
        404,
        errorBody(
          "not_found_error",
          `scripted LLM server: no endpoint ${req.method} ${path} (POST /v1/messages, POST /v1/chat/completions)`,
        ),
        { "x-should-retry": "false" },
      );
      return;
    }
    let body: Json;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (!isObject(parsed)) throw new Error("the body is not a JSON object");
      body = parsed;
    } catch (error) {
      send(res, 400, errorBody("invalid_request_error", `scripted LLM server: ${(error as Error).message}`), {
        "x-should-retry": "false",
      });
      return;
    }
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[key] = Array.isArray(value) ? value.join(", ") : value;
    }
    const summary = api === "anthropic" ? summarizeAnthropic(body) : summarizeOpenAI(body);
    const state = rules.find((s) => usesLeft(s) && matches(s.rule.when, api, summary));
    const recorded: RecordedLlmRequest = { api, path, body, headers, summary, rule: state?.rule.name };
    requests.push(recorded);

    if (!state) {
      unmatched.push(recorded);
      const ruleList = rules.map((s) => `${s.rule.name} (used ${s.used}${s.rule.times ? `/${s.rule.times}` : ""})`).join(", ");
      const message =
        `scripted LLM server: no rule matched ${api} request #${requests.length} ` +
        `(model=${summary.model}, system="${clip(summary.system)}", lastUser="${clip(summary.lastUser)}", ` +
        `tools=[${summary.tools.join(",")}], toolResults=${summary.toolResultsCount}, forcedTool=${summary.forcedTool ?? "none"}). ` +
        `Rules: ${ruleList || "(none)"}`;
      send(res, 500, errorBody("scripted_llm_no_match", message), { "x-should-retry": "false" });
      return;
    }

    const index = state.used++;
    const { respond } = state.rule;
    let response: ScriptedHttpResponse;
    try {
      response =
        typeof respond === "function"
          ? respond(recorded)
          : "sequence" in respond
            ? (respond.sequence[index] as ScriptedHttpResponse)
            : respond;
    } catch (error) {
      send(res, 500, errorBody("scripted_llm_rule_error", `rule ${state.rule.name} threw: ${(error as Error).message}`), {
        "x-should-retry": "false",
      });
      return;
    }
    const status = response.status ?? 200;
    const replyBody = status < 300 ? completeBody(api, response.body, summary.model) : response.body;
    const reply = () => send(res, status, replyBody, response.headers);
    if (response.delayMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        reply();
      }, response.delayMs);
      timers.add(timer);
    } else {
      reply();
    }
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => handle(req, res, Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;

  const close = async () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return {
    url,
    anthropicBaseURL: url,
    openaiBaseURL: `${url}/v1`,
    requests,
    unmatched,
    addRules(list) {
      rules.push(...list.map((rule) => ({ rule, used: 0 })));
    },
    reset(list) {
      if (list) setRules(list);
      else for (const state of rules) state.used = 0;
      requests.length = 0;
      unmatched.length = 0;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Fills in what a success body leaves out: `model` (the request's), `id`, Anthropic `usage`. */
function completeBody(api: LlmApi, body: unknown, model: string): unknown {
  if (!isObject(body)) return body ?? {};
  const out: Json = { ...body };
  out.model ??= model;
  out.id ??= api === "anthropic" ? `msg_scripted_${++generatedId}` : `chatcmpl-scripted-${++generatedId}`;
  if (api === "anthropic") out.usage ??= { input_tokens: 0, output_tokens: 0 };
  return out;
}

// ---------------------------------------------------------------------------------------------
// Body builders

/**
 * Token counts for the builders, in the providers' shared meaning: `inputTokens` uncached input,
 * `cacheReadTokens` / `cacheWriteTokens` cached input (OpenAI: `prompt_tokens` = input + cache
 * reads, `cached_tokens` = cache reads; writes are Anthropic-only). Defaults 10 in, 5 out.
 */
export interface UsageSpec {
  readonly inputTokens?: number;
  readonly outputTokens?: number;
  readonly cacheReadTokens?: number;
  readonly cacheWriteTokens?: number;
}

function anthropicUsage(usage: UsageSpec = {}): Json {
  return {
    input_tokens: usage.inputTokens ?? 10,
    output_tokens: usage.outputTokens ?? 5,
    cache_read_input_tokens: usage.cacheReadTokens ?? 0,
    cache_creation_input_tokens: usage.cacheWriteTokens ?? 0,
  };
}

function openaiUsage(usage: UsageSpec = {}): Json {
  const cached = usage.cacheReadTokens ?? 0;
  const prompt = (usage.inputTokens ?? 10) + cached;
  const completion = usage.outputTokens ?? 5;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached },
  };
}

/** An Anthropic Messages response with one text block (`stop_reason: end_turn`). */
export function anthropicText(text: string, usage?: UsageSpec): Json {
  return {
    type: "message",
    role: "assistant",
    content: [{ type: "text", text }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: anthropicUsage(usage),
  };
}

/** An Anthropic response calling tools in order (`stop_reason: tool_use`), optionally after some text. */
export function anthropicToolUse(
  calls: readonly { id?: string; name: string; input?: unknown }[],
  options: { text?: string; usage?: UsageSpec } = {},
): Json {
  return {
    type: "message",
    role: "assistant",
    content: [
      ...(options.text ? [{ type: "text", text: options.text }] : []),
      ...calls.map((c) => ({ type: "tool_use", id: c.id ?? `toolu_scripted_${++generatedId}`, name: c.name, input: c.input ?? {} })),
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: anthropicUsage(options.usage),
  };
}

/** An OpenAI chat completion with a text message (`finish_reason: stop`). */
export function openaiText(text: string, usage?: UsageSpec): Json {
  return {
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop", logprobs: null }],
    usage: openaiUsage(usage),
  };
}

/**
 * An OpenAI chat completion calling tools in order (`finish_reason: tool_calls`). `arguments` is
 * the raw JSON text the model produced (it need not be valid); an object is serialized.
 */
export function openaiToolCalls(
  calls: readonly { id?: string; name: string; arguments: string | Record<string, unknown> }[],
  options: { text?: string; usage?: UsageSpec } = {},
): Json {
  return {
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: options.text ?? null,
          tool_calls: calls.map((c) => ({
            id: c.id ?? `call_scripted_${++generatedId}`,
            type: "function",
            function: { name: c.name, arguments: typeof c.arguments === "string" ? c.arguments : JSON.stringify(c.arguments) },
          })),
        },
        finish_reason: "tool_calls",
        logprobs: null,
      },
    ],
    usage: openaiUsage(options.usage),
  };
}

/**
 * An error answer both SDKs understand (`{type: "error", error: {type, message}}`), e.g.
 * `httpError(429, "slow down", { "retry-after": "0" })`.
 */
export function httpError(status: number, message: string, headers?: Record<string, string>): ScriptedHttpResponse {
  const type = status === 429 ? "rate_limit_error" : status >= 500 ? "api_error" : "invalid_request_error";
  return { status, body: { type: "error", error: { type, message } }, ...(headers ? { headers } : {}) };
}
