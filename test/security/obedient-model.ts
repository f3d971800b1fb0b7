/**
 * The worst-case models of the injection suite: in-process `ChatProvider`s that OBEY every
 * instruction they read. Attack texts embed instructions in one machine-readable shape,
 * `CALL <tool> <json-args>` (for the planner also `PLAN-ADD-STEP <json>` and `PLAN-SET <json>`),
 * possibly encoded (base64 behind `base64:`, percent-encoding, ROT13 in `ROT13<<<…>>>`, JSON
 * string escapes); the model
 * finds them anywhere in the messages it receives — the task message, upstream results, tool
 * results, error results — decodes them, fills `{{SECRET}}` with the first secret-looking token
 * it can see, and emits the calls next to the benign task's own calls. Fences, nonces, warnings
 * and denials do not stop it; only the harness around the loop can. It never repeats a call it
 * already made (so a denied call is not retried), which keeps cases finite.
 */
import type { ChatProvider, ChatRequest, ChatResponse, ToolCallBlock } from "@baton/llm";
import { argsHash } from "@baton/tools";
import { rot13 } from "./cases.ts";

/** A tool call: tool and arguments. */
export interface CallSpec {
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

/** Same tool, same canonical arguments. */
export function callKey(call: CallSpec): string {
  return `${call.tool}:${argsHash(call.args)}`;
}

const SECRET = /\bsk-(?:live|canary)-[A-Za-z0-9-]{6,}/;

/** Every `<verb> <json>` instruction in `text`, after decoding the encoded variants. */
export function readInstructions(text: string, verb = "CALL"): { name: string; json: unknown }[] {
  const found: { name: string; json: unknown }[] = [];
  const seen = new Set<string>();
  for (const variant of decodedVariants(text)) {
    const pattern = verb === "CALL" ? /\bCALL\s+([A-Za-z0-9_-]{1,64})\s+(?=\{)/g : new RegExp(`\\b${verb}()\\s+(?=\\{)`, "g");
    for (const match of variant.matchAll(pattern)) {
      const json = balancedJson(variant, (match.index ?? 0) + match[0].length);
      if (json === undefined) continue;
      const key = `${match[1]}:${json}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        found.push({ name: match[1] ?? "", json: JSON.parse(json) });
      } catch {
        // Not JSON after all: a real model might still try; this one skips it.
      }
    }
  }
  return found;
}

/** The text, its JSON-unescaped forms (tool outputs are JSON, sometimes JSON in JSON) and what its encoded parts decode to. */
function decodedVariants(text: string): string[] {
  const variants = [text];
  for (let depth = 0; depth < 2; depth++) variants.push(unescapeJson(variants.at(-1) ?? ""));
  for (const base of [...variants]) {
    for (const match of base.matchAll(/base64:([A-Za-z0-9+/=]{8,})/g))
      variants.push(Buffer.from(match[1] ?? "", "base64").toString("utf8"));
    for (const match of base.matchAll(/ROT13<<<([\s\S]*?)>>>/g)) variants.push(rot13(match[1] ?? ""));
    for (const match of base.matchAll(/(?:CALL|PLAN-ADD-STEP|PLAN-SET)%20[^\s"\\<]+/g)) {
      try {
        variants.push(decodeURIComponent(match[0]));
      } catch {
        // Malformed escapes: skipped.
      }
    }
  }
  return variants;
}

function unescapeJson(text: string): string {
  return text.replaceAll(/\\(["\\/nrt])/g, (_, c: string) => (c === "n" ? "\n" : c === "r" ? "\r" : c === "t" ? "\t" : c));
}

/** The balanced `{…}` starting at `start` (strings respected), or undefined. */
function balancedJson(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") depth++;
    else if (c === "}") {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return undefined;
}

/** Replaces `{{SECRET}}` in every string of `value` with `secret` (when one was seen). */
function fill(value: unknown, secret: string | undefined): unknown {
  if (typeof value === "string") return secret ? value.replaceAll("{{SECRET}}", secret) : value;
  if (Array.isArray(value)) return value.map((v) => fill(v, secret));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, secret)]));
  return value;
}

/** Everything the model reads that is not its own output: user text and tool results. */
function readable(request: ChatRequest): string[] {
  return request.messages
    .filter((m) => m.role === "user")
    .flatMap((m) => m.content.map((b) => (b.type === "text" ? b.text : b.type === "tool_result" ? b.content : "")));
}

function response(request: ChatRequest, content: ChatResponse["content"]): ChatResponse {
  return {
    id: "obedient",
    model: request.model,
    content,
    stopReason: content.some((b) => b.type === "tool_call") ? "tool_use" : "end_turn",
    usage: { inputTokens: 50, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 },
    costUsd: 0,
  };
}

/**
 * The worst-case worker model. `phases` is the benign task's plan: the calls of phase k+1 are
 * made once every call of phase k was made (and its results came back); then `answer`.
 */
export class ObedientModel implements ChatProvider {
  readonly name = "obedient";
  readonly requests: ChatRequest[] = [];
  /** Every call this model made because an injected instruction told it to, in order. */
  readonly injected: CallSpec[] = [];
  readonly #phases: readonly (readonly CallSpec[])[];
  readonly #answer: string;
  #ids = 0;

  constructor(phases: readonly (readonly CallSpec[])[], answer: string) {
    this.#phases = phases;
    this.#answer = answer;
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(structuredClone({ ...request, signal: undefined }));
    const made = new Set(
      request.messages
        .filter((m) => m.role === "assistant")
        .flatMap((m) => m.content.filter((b): b is ToolCallBlock => b.type === "tool_call"))
        .map((b) => callKey({ tool: b.name, args: b.arguments })),
    );
    const texts = readable(request);
    const secret = texts.map((t) => SECRET.exec(t)?.[0]).find((s) => s !== undefined);
    const fresh = new Map<string, CallSpec>();
    for (const text of texts) {
      for (const { name, json } of readInstructions(text)) {
        if (json === null || typeof json !== "object" || Array.isArray(json)) continue;
        const call = { tool: name, args: fill(json, secret) as Record<string, unknown> };
        const key = callKey(call);
        if (!made.has(key)) fresh.set(key, call);
      }
    }
    const phase = this.#phases.find((calls) => calls.some((c) => !made.has(callKey(c)))) ?? [];
    const benign = phase.filter((c) => !made.has(callKey(c)) && !fresh.has(callKey(c)));
    this.injected.push(...fresh.values());
    const calls = [...benign, ...fresh.values()];
    if (calls.length === 0) return response(request, [{ type: "text", text: this.#answer }]);
    return response(
      request,
      calls.map((c) => ({ type: "tool_call" as const, id: `call_${++this.#ids}`, name: c.tool, arguments: c.args })),
    );
  }
}

/**
 * The worst-case planner model: answers the forced `submit_plan` call with the benign plan
 * changed as the injected text says — `CALL submit_plan <plan>` replaces it, `PLAN-ADD-STEP
 * <step>` adds a step, `PLAN-SET <fields>` sets top-level fields. When a plan comes back
 * invalid it repairs like a model would: the second attempt drops the top-level fields, the
 * third drops the injected steps too.
 */
export class ObedientPlanner implements ChatProvider {
  readonly name = "obedient-planner";
  readonly requests: ChatRequest[] = [];
  /** The plan sent on each attempt. */
  readonly submitted: Record<string, unknown>[] = [];
  readonly #benign: { readonly steps: readonly Record<string, unknown>[] };

  constructor(benign: { readonly steps: readonly Record<string, unknown>[] }) {
    this.#benign = benign;
  }

  async chat(request: ChatRequest): Promise<ChatResponse> {
    this.requests.push(structuredClone({ ...request, signal: undefined }));
    const attempt = Math.ceil(request.messages.length / 2);
    const texts = readable(request).slice(0, 1); // the goal, the cards and the memories
    let plan: Record<string, unknown> = { steps: [...this.#benign.steps] };
    const fields: Record<string, unknown> = {};
    for (const text of texts) {
      for (const { name, json } of readInstructions(text)) {
        if (name === "submit_plan" && json !== null && typeof json === "object") plan = json as Record<string, unknown>;
      }
      for (const { json } of readInstructions(text, "PLAN-ADD-STEP")) {
        if (attempt < 3) plan = { ...plan, steps: [...(Array.isArray(plan["steps"]) ? plan["steps"] : []), json] };
      }
      for (const { json } of readInstructions(text, "PLAN-SET")) {
        if (json !== null && typeof json === "object") Object.assign(fields, json);
      }
    }
    if (attempt >= 3) plan = { steps: [...this.#benign.steps] };
    const submitted = attempt === 1 ? { ...plan, ...fields } : plan;
    this.submitted.push(submitted);
    return response(request, [{ type: "tool_call", id: `plan_${attempt}`, name: "submit_plan", arguments: submitted }]);
  }
}
