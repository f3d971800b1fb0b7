/**
 * Hostile submissions for `tasks.submit` (issue 9): a deterministic generator (seeded PRNG) of bad
 * — and a few good — submissions by category, each with the answer the supervisor must give,
 * and a runner that publishes a corpus at a steady rate and matches every answer to its
 * submission. Used by test/integration/fuzz.test.ts and bench/memory.ts.
 *
 * Matching: every submission that can carry a unique taskId the supervisor echoes (a valid one,
 * or an invalid but readable one such as 129 characters) is matched by it, and is published in
 * the concurrent phase; those that cannot (invalid JSON, not UTF-8, over the size limit, a
 * reserved or unreadable taskId, not an object) have `key: null` and are published one at a
 * time in a serial phase, each answer going to the one submission in flight.
 */
import {
  type ErrorCode,
  MAX_JSON_DEPTH,
  MAX_METADATA_ENTRIES,
  MAX_TOOL_ARGS_BYTES,
  RESERVED_NAMES,
  subjects,
  TaskRejected,
} from "@baton/contracts";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/** MAX_SUBMISSION_BYTES, the supervisor's default (1 MiB). */
export const MAX_SUBMISSION_BYTES = 1_048_576;

/** What a submission must be answered with: a rejection code, or an event on `tasks.events.<taskId>.task`. */
export type ExpectedAnswer = ErrorCode | "accepted" | "resubmitted";

/** One generated submission and the answer it must get. */
export interface HostileSubmission {
  /** Position in the corpus (0-based). */
  readonly index: number;
  /** What kind of hostility (the report groups by it). */
  readonly category: string;
  readonly expected: ExpectedAnswer;
  /**
   * The taskId its answer carries, unique in the corpus but for the two submissions of a pair (an
   * original and its resubmission or conflict); null: matched by order in the serial phase.
   */
  readonly key: string | null;
  /** The bytes published on `tasks.submit`. */
  readonly payload: Uint8Array;
  /** When set, a rejection must name a field whose path starts with this (e.g. `plan.steps.0.id`). */
  readonly pathPrefix?: string;
  /** Index of a submission that must have been answered (and, when accepted, planned) before this one is published. */
  readonly after?: number;
  /** Publish together with the submission before it (no wait): races it on purpose. */
  readonly burst?: boolean;
  /** One line: what exactly is wrong with it. */
  readonly note: string;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32: a small, fast, seeded PRNG (32-bit state); the same seed gives the same corpus. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `length` characters drawn from `alphabet`. */
  string(length: number, alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.next() * alphabet.length)];
    return out;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }
}

// ---------------------------------------------------------------------------------------------
// Building blocks

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", { fatal: true });

type Obj = Record<string, unknown>;

/** A one-call step of the code agent (`evaluate_expression`). */
function evalStep(id: string, extra: Obj = {}, expression = "1+1"): Obj {
  return {
    id,
    agent: "code",
    instruction: `fuzz step ${id}`,
    toolCalls: [{ tool: "evaluate_expression", args: { expression } }],
    ...extra,
  };
}

/** A valid one-step submission. */
function validSubmission(taskId: string, extra: Obj = {}): Obj {
  return { taskId, goal: `fuzz ${taskId}`, plan: { steps: [evalStep("a")] }, ...extra };
}

/** A valid submission of one of a few plan shapes over the built-in agents (all finish in milliseconds). */
function validShape(rng: Rng, taskId: string): Obj {
  switch (rng.int(0, 4)) {
    case 0:
      return validSubmission(taskId);
    case 1:
      return {
        taskId,
        goal: `fuzz chain ${taskId}`,
        plan: {
          steps: [
            evalStep("s1", {}, "2*21"),
            {
              ...evalStep("s2", { dependsOn: ["s1"] }),
              toolCalls: [{ tool: "evaluate_expression", args: { expression: "x+1", scope: { x: { $fromStep: "s1", path: "/result" } } } }],
            },
          ],
        },
      };
    case 2:
      return {
        taskId,
        goal: `fuzz data ${taskId}`,
        plan: {
          steps: [
            {
              id: "q",
              agent: "data",
              instruction: "count",
              toolCalls: [{ tool: "sql_query", args: { sql: "SELECT count(*) AS n FROM seattle_weather" } }],
            },
          ],
        },
      };
    case 3:
      return {
        taskId,
        goal: `fuzz research ${taskId}`,
        plan: {
          steps: [
            {
              id: "r",
              agent: "research",
              instruction: "search",
              toolCalls: [{ tool: "search_documents", args: { query: "readline", limit: 2 } }],
            },
          ],
        },
      };
    default:
      return {
        taskId,
        goal: `fuzz script ${taskId}`,
        metadata: { requestedBy: "fuzz", run: taskId.slice(0, 64) },
        budget: { maxWallTimeMs: 600_000 },
        timeoutMs: 600_000,
        plan: {
          failurePolicy: "continue",
          steps: [
            { id: "js", agent: "code", instruction: "script", toolCalls: [{ tool: "run_javascript", args: { code: "return 6*7" } }] },
          ],
        },
      };
  }
}

/** JSON text of `value` with the string `"\u0001DEEP\u0001"` replaced by `deep` (JSON text built without recursion). */
const DEEP = "\u0001DEEP\u0001";
function withDeep(value: unknown, deep: string): string {
  const text = JSON.stringify(value);
  const marker = JSON.stringify(DEEP);
  if (!text.includes(marker)) throw new Error("withDeep: no marker");
  return text.replace(marker, () => deep);
}

/** JSON text of a value nested `depth` levels deep (arrays, objects or both), built as a string. */
function nestedText(depth: number, shape: "array" | "object" | "mixed"): string {
  if (shape === "array") return `${"[".repeat(depth)}1${"]".repeat(depth)}`;
  if (shape === "object") return `${'{"x":'.repeat(depth)}1${"}".repeat(depth)}`;
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    if (i % 2 === 0) {
      open.push('{"x":');
      close.push("}");
    } else {
      open.push("[");
      close.push("]");
    }
  }
  return `${open.join("")}1${close.reverse().join("")}`;
}

/** Depths over MAX_JSON_DEPTH, from just over to far over. */
const DEPTHS = [MAX_JSON_DEPTH + 1, MAX_JSON_DEPTH + 2, 100, 1_000, 10_000] as const;

/** A depth over MAX_JSON_DEPTH: one of {@link DEPTHS}, or (one time in ten) 100,000. */
const pickDepth = (rng: Rng): number => (rng.chance(0.1) ? 100_000 : rng.pick(DEPTHS));
const SHAPES = ["array", "object", "mixed"] as const;

const RESERVED = [...RESERVED_NAMES];

/** Characters the contract refuses in free text: C0 controls (but tab, LF, CR), DEL, C1 controls. */
const CONTROL_CHARS = [
  "\u0000",
  "\u0001",
  "\u0007",
  "\u0008",
  "\u000b",
  "\u000c",
  "\u000e",
  "\u001b",
  "\u001f",
  "\u007f",
  "\u0080",
  "\u0085",
  "\u009f",
];
/** Unpaired surrogates (and a pair in the wrong order). */
const LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udc00\ud800", "a\ud83d", "\ude00b"];

/** Code point ranges of clean but unusual text: RTL scripts, CJK, combining marks, astral emoji, bidi overrides, zero-width, noncharacters. */
const UNICODE_RANGES: readonly [number, number][] = [
  [0x41, 0x5a],
  [0xc0, 0xff],
  [0x370, 0x3ff],
  [0x400, 0x4ff],
  [0x5d0, 0x5ea],
  [0x600, 0x6ff],
  [0x300, 0x36f],
  [0x4e00, 0x4eff],
  [0xac00, 0xacff],
  [0x1f300, 0x1faff],
  [0x200b, 0x200f],
  [0x202a, 0x202e],
  [0x2066, 0x2069],
  [0xfeff, 0xfeff],
  [0xfffe, 0xffff],
  [0x10000, 0x1007f],
];

/** Clean random Unicode (no control character, no unpaired surrogate) of about `length` code points. */
function cleanUnicode(rng: Rng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) {
    const [lo, hi] = rng.pick(UNICODE_RANGES);
    out += String.fromCodePoint(rng.int(lo, hi));
  }
  return out;
}

/** Clean random Unicode that is certainly not an id: at least one character outside `A-Z a-z 0-9 _ -`. */
function unicodeNotId(rng: Rng, length: number): string {
  const text = cleanUnicode(rng, length);
  return /^[A-Za-z0-9_-]*$/.test(text) ? `${text}\u00e9` : text;
}

/** `text` with `insert` at a random position. */
function insertAt(rng: Rng, text: string, insert: string): string {
  const at = rng.int(0, text.length);
  return text.slice(0, at) + insert + text.slice(at);
}

/** A string of exactly `n` UTF-16 units (ASCII). */
const filler = (n: number, c = "x") => c.repeat(Math.max(0, n));

/**
 * `id` padded with `_` to exactly `length` characters. The generated ids (`<prefix>-<base 36>`) hold
 * no `_`, so padded ids stay unique (padding with a base-36 digit would make `a-1` + `x…` and
 * `a-1x` + `x…` the same).
 */
function padId(id: string, length: number): string {
  return id.length >= length ? id.slice(0, length) : id + filler(length - id.length, "_");
}

/**
 * What the supervisor must answer for bytes that are not a submission of any shape: the reference
 * is the standard JSON parser (`PAYLOAD_TOO_LARGE` over 1 MiB, `INVALID_JSON` when not UTF-8 JSON,
 * else `VALIDATION_FAILED`: parsed garbage is never a valid submission).
 */
export function expectedForGarbage(bytes: Uint8Array): ErrorCode {
  if (bytes.byteLength > MAX_SUBMISSION_BYTES) return "PAYLOAD_TOO_LARGE";
  try {
    JSON.parse(strictDecoder.decode(bytes));
    return "VALIDATION_FAILED";
  } catch {
    return "INVALID_JSON";
  }
}

// ---------------------------------------------------------------------------------------------
// Categories

/** One submission as a category builds it; `key` defaults to the context's taskId. */
interface Made {
  readonly payload: string | Uint8Array;
  readonly note: string;
  readonly key?: string | null;
  /** Overrides the category's expectation (e.g. the first of a pair). */
  readonly expected?: ExpectedAnswer;
  /** Overrides the category's name (e.g. the original of a resubmission). */
  readonly category?: string;
  readonly pathPrefix?: string;
  /** Relative: this many items back must be answered first (1 = the previous one). */
  readonly afterBack?: number;
  readonly burst?: boolean;
}

interface MakeContext {
  readonly rng: Rng;
  /** A fresh taskId, unique in the corpus; `ctx.nextId()` gives further ones. */
  readonly id: string;
  nextId(): string;
}

interface Category {
  readonly name: string;
  readonly expected: ExpectedAnswer;
  /** Relative frequency after the first round (which has one of each). */
  readonly weight: number;
  make(ctx: MakeContext): Made | Made[];
}

const json = (value: unknown) => JSON.stringify(value);

/** What a field wants: `number` a positive integer, `float` a positive number. */
type FieldType = "string" | "number" | "float" | "array" | "object" | "enum" | "boolean";

/** The wrong-typed (or out of range) values for a field that wants `type`. */
function wrongValues(type: FieldType): unknown[] {
  const all: Record<string, unknown> = { string: "7", number: 7, boolean: true, null: null, array: ["x"], object: { x: 1 } };
  const not: Record<FieldType, string[]> = {
    string: ["string"],
    number: ["number"],
    float: ["number"],
    array: ["array"],
    object: ["object"],
    enum: ["string"],
    boolean: ["boolean"],
  };
  const values = Object.entries(all)
    .filter(([k]) => !not[type].includes(k))
    .map(([, v]) => v);
  if (type === "number") values.push(1.5, -1, 0);
  if (type === "float") values.push(-1.5, 0);
  if (type === "enum") values.push("sometimes", "");
  return values;
}

/** Fields of a valid submission and the kind of value each wants (for "wrong type at a random field"). */
const TYPED_FIELDS: readonly { path: (string | number)[]; type: FieldType }[] = [
  { path: ["goal"], type: "string" },
  { path: ["plan"], type: "object" },
  { path: ["plan", "steps"], type: "array" },
  { path: ["plan", "steps", 0], type: "object" },
  { path: ["plan", "steps", 0, "id"], type: "string" },
  { path: ["plan", "steps", 0, "agent"], type: "string" },
  { path: ["plan", "steps", 0, "instruction"], type: "string" },
  { path: ["plan", "steps", 0, "toolCalls"], type: "array" },
  { path: ["plan", "steps", 0, "toolCalls", 0], type: "object" },
  { path: ["plan", "steps", 0, "toolCalls", 0, "tool"], type: "string" },
  { path: ["plan", "steps", 0, "toolCalls", 0, "args"], type: "object" },
  { path: ["plan", "steps", 0, "dependsOn"], type: "array" },
  { path: ["plan", "steps", 0, "timeoutMs"], type: "number" },
  { path: ["plan", "steps", 0, "retry"], type: "object" },
  { path: ["plan", "steps", 0, "retry", "maxAttempts"], type: "number" },
  { path: ["plan", "steps", 0, "compensation"], type: "object" },
  { path: ["plan", "failurePolicy"], type: "enum" },
  { path: ["plan", "approval"], type: "object" },
  { path: ["plan", "approval", "all"], type: "boolean" },
  { path: ["timeoutMs"], type: "number" },
  { path: ["budget"], type: "object" },
  { path: ["budget", "maxTokens"], type: "number" },
  { path: ["budget", "maxCostUsd"], type: "float" },
  { path: ["metadata"], type: "object" },
  { path: ["metadata", "k"], type: "string" },
  { path: ["schemaVersion"], type: "enum" },
];

/** Sets `value` at `path` in `root` (creating objects on the way). */
function setAt(root: Obj, path: readonly (string | number)[], value: unknown): void {
  let node: Record<string | number, unknown> = root;
  path.forEach((part, i) => {
    if (i === path.length - 1) {
      node[part] = value;
      return;
    }
    const next = node[part];
    if (next === null || typeof next !== "object") node[part] = {};
    node = node[part] as Record<string | number, unknown>;
  });
}

/** Arguments that fail a built-in tool's input schema (as its agent card publishes it). */
const BAD_ARGS: readonly { agent: string; tool: string; args: Obj; why: string }[] = [
  { agent: "code", tool: "evaluate_expression", args: { expression: 5 }, why: "expression not a string" },
  { agent: "code", tool: "evaluate_expression", args: {}, why: "expression missing" },
  { agent: "code", tool: "evaluate_expression", args: { expression: "" }, why: "expression empty" },
  { agent: "code", tool: "evaluate_expression", args: { expression: filler(2_001, "1") }, why: "expression over 2,000 characters" },
  { agent: "code", tool: "evaluate_expression", args: { expression: "x", scope: { "1x": 1 } }, why: "scope name not an identifier" },
  { agent: "code", tool: "evaluate_expression", args: { expression: "x", scope: { x: true } }, why: "scope value a boolean" },
  { agent: "code", tool: "run_javascript", args: { code: "" }, why: "code empty" },
  { agent: "code", tool: "run_javascript", args: { code: "return 1", timeoutMs: 5 }, why: "timeoutMs under 10" },
  { agent: "data", tool: "sql_query", args: { sql: "   " }, why: "sql only whitespace" },
  { agent: "data", tool: "sql_query", args: { sql: "SELECT 1", maxRows: 0 }, why: "maxRows 0" },
  { agent: "data", tool: "sql_query", args: { maxRows: 3 }, why: "sql missing" },
  { agent: "data", tool: "describe_dataset", args: { name: "" }, why: "name empty" },
  { agent: "research", tool: "search_documents", args: { query: "x", limit: 21 }, why: "limit over 20" },
  { agent: "research", tool: "search_documents", args: { query: "x", extra: 1 }, why: "an argument the tool does not take" },
  {
    agent: "research",
    tool: "search_documents",
    args: { query: "x", constructor: 1 },
    why: "`constructor` as an argument the tool does not take",
  },
  { agent: "research", tool: "read_document", args: { id: "fs", maxBytes: 10 }, why: "maxBytes under 256" },
  { agent: "research", tool: "read_document", args: { id: 7 }, why: "id not a string" },
];

/** Step plans with a DAG fault, and the issue path they must name. */
function dagFault(rng: Rng): { plan: Obj; note: string; pathPrefix: string } {
  switch (rng.int(0, 5)) {
    case 0: {
      const n = rng.int(2, 10);
      const steps = Array.from({ length: n }, (_, i) => evalStep(`c${i}`, { dependsOn: [`c${(i + 1) % n}`] }));
      return { plan: { steps }, note: `a dependency cycle of ${n} steps`, pathPrefix: "plan.steps." };
    }
    case 1: {
      const n = rng.int(2, 6);
      const steps = Array.from({ length: n }, () => evalStep("same"));
      return { plan: { steps }, note: `${n} steps with the same id`, pathPrefix: "plan.steps.1.id" };
    }
    case 2:
      return {
        plan: { steps: [evalStep("a"), evalStep("b", { dependsOn: ["ghost"] })] },
        note: "a dependency on an unknown step",
        pathPrefix: "plan.steps.1.dependsOn.0",
      };
    case 3:
      return {
        plan: { steps: [evalStep("a", { dependsOn: ["a"] })] },
        note: "a step that depends on itself",
        pathPrefix: "plan.steps.0.dependsOn.0",
      };
    case 4:
      return {
        plan: {
          steps: [
            evalStep("a"),
            {
              ...evalStep("b"),
              toolCalls: [{ tool: "evaluate_expression", args: { expression: "x", scope: { x: { $fromStep: "a", path: "/result" } } } }],
            },
          ],
        },
        note: "a $fromStep reference to a step that is not an ancestor",
        pathPrefix: "plan.steps.1.toolCalls.0.args.scope.x",
      };
    default:
      return {
        plan: {
          steps: [
            {
              ...evalStep("a"),
              toolCalls: [{ tool: "evaluate_expression", args: { expression: "x", scope: { x: { $fromStep: "nobody", path: "" } } } }],
            },
          ],
        },
        note: "a $fromStep reference to an unknown step",
        pathPrefix: "plan.steps.0.toolCalls.0.args.scope.x",
      };
  }
}

/**
 * A category of free text (the goal, a step's instruction or a metadata value) holding one of
 * `chars` at a random place: each must be refused with the field's path.
 */
function badTextCategory(name: string, weight: number, chars: readonly string[], describe: (c: string) => string): Category {
  return {
    name,
    expected: "VALIDATION_FAILED",
    weight,
    make: ({ rng, id }) => {
      const c = rng.pick(chars);
      const text = insertAt(rng, `text ${rng.string(rng.int(0, 40))}`, c);
      const where = rng.int(0, 2);
      const sub =
        where === 0
          ? validSubmission(id, { goal: text })
          : where === 1
            ? validSubmission(id, { plan: { steps: [evalStep("a", { instruction: text })] } })
            : validSubmission(id, { metadata: { note: text } });
      const path = ["goal", "plan.steps.0.instruction", "metadata.note"][where] as string;
      return { payload: json(sub), pathPrefix: path, note: `${describe(c)} in ${path}` };
    },
  };
}

/** Every category; a corpus starts with one of each (in a seeded order), then draws by weight. */
const CATEGORIES: readonly Category[] = [
  // -- controls: accepted --------------------------------------------------------------------
  {
    name: "accepted: valid plan (controls)",
    expected: "accepted",
    weight: 25,
    make: ({ rng, id }) => ({ payload: json(validShape(rng, id)), note: "a valid submission" }),
  },
  {
    name: "accepted: every value at its limit",
    expected: "accepted",
    weight: 3,
    make: ({ id }) => {
      const taskId = padId(id, 128);
      const metadata = Object.fromEntries(
        Array.from({ length: MAX_METADATA_ENTRIES }, (_, i) => [padId(`k${i}-`, 64), filler(256, String.fromCharCode(97 + (i % 26)))]),
      );
      const s1 = padId("s1-", 128);
      const s2 = padId("s2-", 128);
      return {
        key: taskId,
        payload: json({
          taskId,
          goal: filler(10_000, "g"),
          metadata,
          plan: { steps: [evalStep(s1, { instruction: filler(4_000, "i") }), evalStep(s2, { dependsOn: [s1] })] },
        }),
        note: "128-character taskId and step ids, 32 metadata entries of 64-character keys and 256-character values, a 10,000-character goal, a 4,000-character instruction",
      };
    },
  },
  {
    name: "accepted: nested exactly MAX_JSON_DEPTH deep",
    expected: "accepted",
    weight: 3,
    make: ({ rng, id }) => {
      // submission 1, plan 2, steps 3, step 4, toolCalls 5, call 6, args 7, args.data 8: data nests depth - 7 levels.
      const shape = rng.pick(SHAPES);
      const sub = validSubmission(id, {
        plan: {
          steps: [
            {
              id: "a",
              agent: "code",
              instruction: "deep",
              toolCalls: [{ tool: "run_javascript", args: { code: "return 1", data: DEEP } }],
            },
          ],
        },
      });
      return {
        payload: withDeep(sub, nestedText(MAX_JSON_DEPTH - 7, shape)),
        note: `tool data nested (${shape}) to depth ${MAX_JSON_DEPTH} exactly`,
      };
    },
  },
  {
    name: "accepted: tool args of exactly MAX_TOOL_ARGS_BYTES",
    expected: "accepted",
    weight: 2,
    make: ({ id }) => {
      const code = "return data.length";
      const overhead = Buffer.byteLength(json({ code, data: "" }));
      const args = { code, data: filler(MAX_TOOL_ARGS_BYTES - overhead, "d") };
      return {
        payload: json(
          validSubmission(id, {
            plan: { steps: [{ id: "a", agent: "code", instruction: "big", toolCalls: [{ tool: "run_javascript", args }] }] },
          }),
        ),
        note: `args of ${MAX_TOOL_ARGS_BYTES} bytes as JSON (the limit)`,
      };
    },
  },
  {
    name: "accepted: clean random Unicode in free text",
    expected: "accepted",
    weight: 4,
    make: ({ rng, id }) => ({
      payload: json(
        validSubmission(id, {
          goal: `g ${cleanUnicode(rng, rng.int(1, 200))}`,
          metadata: { note: cleanUnicode(rng, rng.int(1, 120)).slice(0, 256), [`u${rng.int(0, 9)}`]: cleanUnicode(rng, 10).slice(0, 256) },
          plan: { steps: [evalStep("a", { instruction: `i ${cleanUnicode(rng, rng.int(1, 300))}` })] },
        }),
      ),
      note: "goal, instruction and metadata values of random Unicode: RTL, CJK, combining marks, emoji, bidi overrides, zero-width, noncharacters",
    }),
  },
  {
    name: "accepted: reserved names (not __proto__) as keys inside free-form tool data",
    expected: "accepted",
    weight: 2,
    make: ({ rng, id }) => {
      // Every reserved name but `__proto__`, which is refused anywhere (see the next category).
      const names = rng.shuffle(RESERVED.filter((n) => n !== "__proto__")).slice(0, rng.int(1, 5));
      const data = `{${names.map((n) => `${JSON.stringify(n)}:{"polluted":true}`).join(",")}}`;
      const sub = validSubmission(id, {
        plan: {
          steps: [
            {
              id: "a",
              agent: "code",
              instruction: "keys",
              toolCalls: [{ tool: "run_javascript", args: { code: "return Object.keys(data ?? {}).length", data: DEEP } }],
            },
          ],
        },
      });
      return { payload: withDeep(sub, data), note: `run_javascript data with the keys ${names.join(", ")} (tool data is free-form JSON)` };
    },
  },
  {
    name: "accepted: wide arguments (100,000 numbers)",
    expected: "accepted",
    weight: 1,
    make: ({ id }) => ({
      payload: json(
        validSubmission(id, {
          plan: {
            steps: [
              {
                id: "a",
                agent: "code",
                instruction: "sum",
                toolCalls: [
                  {
                    tool: "evaluate_expression",
                    args: { expression: "sum(x)", scope: { x: Array.from({ length: 100_000 }, (_, i) => i % 10) } },
                  },
                ],
              },
            ],
          },
        }),
      ),
      note: "evaluate_expression with a 100,000-number array (about 200 KB of args)",
    }),
  },
  {
    name: "accepted: the taskId of an earlier rejected submission",
    expected: "accepted",
    weight: 2,
    make: ({ rng, id }) => [
      {
        payload: json(validSubmission(id, { goal: "   " })),
        expected: "VALIDATION_FAILED",
        category: "VALIDATION_FAILED: blank goal",
        pathPrefix: "goal",
        note: "a blank goal (its taskId is used again next)",
      },
      {
        payload: json(validShape(rng, id)),
        afterBack: 1,
        note: "a valid submission with the taskId of a rejected one (a rejection does not claim the taskId)",
      },
    ],
  },
  // -- the same taskId again -------------------------------------------------------------------
  {
    name: "resubmitted: the same bytes again",
    expected: "resubmitted",
    weight: 4,
    make: ({ rng, id }) => {
      const payload = json(validShape(rng, id));
      return [
        { payload, expected: "accepted", category: "accepted: original of a resubmission", note: "a valid submission (sent again next)" },
        { payload, afterBack: 1, note: "the same bytes again, after the first was accepted" },
      ];
    },
  },
  {
    name: "resubmitted: the same submission reformatted, defaults spelled out",
    expected: "resubmitted",
    weight: 2,
    make: ({ id }) => {
      const first = validSubmission(id);
      const again = {
        plan: {
          failurePolicy: "fail-fast",
          steps: [
            {
              toolCalls: [{ args: { expression: "1+1" }, tool: "evaluate_expression" }],
              dependsOn: [],
              instruction: "fuzz step a",
              agent: "code",
              id: "a",
            },
          ],
        },
        goal: `fuzz ${id}`,
        schemaVersion: 1,
        taskId: id,
      };
      return [
        {
          payload: json(first),
          expected: "accepted",
          category: "accepted: original of a resubmission",
          note: "a valid submission (sent again reformatted next)",
        },
        {
          payload: JSON.stringify(again, null, 3),
          afterBack: 1,
          note: "the same submission with keys reordered, indented, and its defaults written out",
        },
      ];
    },
  },
  {
    name: "TASK_ID_CONFLICT: the same taskId with another body",
    expected: "TASK_ID_CONFLICT",
    weight: 4,
    make: ({ rng, id }) => {
      const first = validShape(rng, id);
      const other = rng.chance(0.5)
        ? { ...first, goal: `${String(first.goal)} (changed)` }
        : validSubmission(id, { goal: first.goal, plan: { steps: [evalStep("other", {}, "2+2")] } });
      return [
        {
          payload: json(first),
          expected: "accepted",
          category: "accepted: original of a conflict",
          note: "a valid submission (its taskId is reused next)",
        },
        {
          payload: json(other),
          afterBack: 1,
          pathPrefix: "taskId",
          note: "the same taskId with another goal or plan, after the first was accepted",
        },
      ];
    },
  },
  {
    name: "resubmitted: the same bytes at once (racing the original)",
    expected: "resubmitted",
    weight: 2,
    make: ({ rng, id }) => {
      const payload = json(validShape(rng, id));
      return [
        {
          payload,
          expected: "accepted",
          category: "accepted: original of a resubmission",
          note: "a valid submission (sent again at once)",
        },
        { payload, burst: true, note: "the same bytes published right after the original, before it was answered" },
      ];
    },
  },
  {
    name: "TASK_ID_CONFLICT: another body at once (racing the original)",
    expected: "TASK_ID_CONFLICT",
    weight: 2,
    make: ({ rng, id }) => {
      const first = validShape(rng, id);
      return [
        {
          payload: json(first),
          expected: "accepted",
          category: "accepted: original of a conflict",
          note: "a valid submission (its taskId is reused at once)",
        },
        {
          payload: json({ ...first, goal: `${String(first.goal)} (changed)` }),
          burst: true,
          pathPrefix: "taskId",
          note: "the same taskId with another goal, published right after the original",
        },
      ];
    },
  },
  // -- nesting ---------------------------------------------------------------------------------
  {
    name: "VALIDATION_FAILED: nested too deep in tool args",
    expected: "VALIDATION_FAILED",
    weight: 40,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      const shape = rng.pick(SHAPES);
      const where = rng.int(0, 2);
      const call =
        where === 0
          ? { tool: "run_javascript", args: { code: "return 1", data: DEEP } }
          : where === 1
            ? { tool: "evaluate_expression", args: { expression: "x", scope: { x: DEEP } } }
            : { tool: "evaluate_expression", args: { expression: "1", [`k${rng.int(0, 99)}`]: DEEP } };
      const argPath = where === 0 ? "data" : where === 1 ? "scope.x" : Object.keys(call.args)[1];
      const sub = validSubmission(id, { plan: { steps: [{ id: "a", agent: "code", instruction: "deep", toolCalls: [call] }] } });
      return {
        payload: withDeep(sub, nestedText(depth, shape)),
        pathPrefix: `plan.steps.0.toolCalls.0.args.${argPath}`,
        note: `args.${argPath} nested ${depth} levels (${shape})`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: nested 500,000 deep in tool args (1 MB)",
    expected: "VALIDATION_FAILED",
    weight: 1,
    make: ({ id }) => {
      const sub = validSubmission(id, {
        plan: {
          steps: [
            { id: "a", agent: "code", instruction: "deep", toolCalls: [{ tool: "run_javascript", args: { code: "1", data: DEEP } }] },
          ],
        },
      });
      return {
        payload: withDeep(sub, nestedText(520_000, "array")),
        pathPrefix: "plan.steps.0.toolCalls.0.args.data",
        note: "args.data nested 520,000 arrays deep (just under 1 MiB)",
      };
    },
  },
  {
    name: "VALIDATION_FAILED: nested too deep in a metadata value",
    expected: "VALIDATION_FAILED",
    weight: 15,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      const shape = rng.pick(SHAPES);
      return {
        payload: withDeep(validSubmission(id, { metadata: { ok: "fine", deep: DEEP } }), nestedText(depth, shape)),
        pathPrefix: "metadata.deep",
        note: `a metadata value (must be a string) nested ${depth} levels (${shape})`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: nested too deep in the plan",
    expected: "VALIDATION_FAILED",
    weight: 15,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      const shape = rng.pick(SHAPES);
      const spots: [string, Obj][] = [
        ["plan.steps.0.instruction", { steps: [{ ...evalStep("a"), instruction: DEEP }] }],
        ["plan.steps.0.retry", { steps: [{ ...evalStep("a"), retry: DEEP }] }],
        ["plan.steps.0.dependsOn", { steps: [{ ...evalStep("a"), dependsOn: DEEP }] }],
        ["plan.approval", { steps: [evalStep("a")], approval: DEEP }],
        ["plan.failurePolicy", { steps: [evalStep("a")], failurePolicy: DEEP }],
        ["plan.steps", { steps: DEEP }],
        ["plan.steps.0.compensation", { steps: [{ ...evalStep("a"), compensation: DEEP }] }],
      ];
      const [path, plan] = rng.pick(spots);
      return {
        payload: withDeep(validSubmission(id, { plan }), nestedText(depth, shape)),
        pathPrefix: path,
        note: `${path} nested ${depth} levels (${shape})`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: nested too deep in the budget",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      const field = rng.pick(["maxTokens", "maxCostUsd", "maxWallTimeMs"]);
      return {
        payload: withDeep(validSubmission(id, { budget: { [field]: DEEP } }), nestedText(depth, rng.pick(SHAPES))),
        pathPrefix: `budget.${field}`,
        note: `budget.${field} nested ${depth} levels`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: nested too deep under an unknown top-level key",
    expected: "VALIDATION_FAILED",
    weight: 5,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      return {
        payload: withDeep(validSubmission(id, { extra: DEEP }), nestedText(depth, rng.pick(SHAPES))),
        pathPrefix: "extra",
        note: `an unknown key "extra" nested ${depth} levels`,
      };
    },
  },
  // -- reserved names --------------------------------------------------------------------------
  {
    name: "VALIDATION_FAILED: reserved name as step id",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const name = rng.pick(RESERVED);
      return {
        payload: json(validSubmission(id, { plan: { steps: [evalStep(name)] } })),
        pathPrefix: "plan.steps.0.id",
        note: `step id "${name}"`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name in dependsOn",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const name = rng.pick(RESERVED);
      return {
        payload: json(validSubmission(id, { plan: { steps: [evalStep("a"), evalStep("b", { dependsOn: [name] })] } })),
        pathPrefix: "plan.steps.1.dependsOn.0",
        note: `dependsOn ["${name}"]`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name as $fromStep",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const name = rng.pick(RESERVED);
      const free = rng.chance(0.5);
      const call = free
        ? { tool: "run_javascript", args: { code: "return data", data: { v: { $fromStep: name, path: "" } } } }
        : { tool: "evaluate_expression", args: { expression: "x", scope: { x: { $fromStep: name, path: "/result" } } } };
      return {
        payload: json(
          validSubmission(id, {
            plan: { steps: [evalStep("a"), { id: "b", agent: "code", instruction: "ref", dependsOn: ["a"], toolCalls: [call] }] },
          }),
        ),
        pathPrefix: "plan.steps.1.toolCalls.0.args",
        note: `{"$fromStep": "${name}"} in ${free ? "run_javascript data (free-form JSON)" : "evaluate_expression scope"}`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name as agent",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const name = rng.pick(["constructor", "prototype", ...RESERVED]);
      return {
        payload: json(validSubmission(id, { plan: { steps: [evalStep("a", { agent: name })] } })),
        pathPrefix: "plan.steps.0.agent",
        note: `agent "${name}"`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name as tool",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const name = rng.pick(RESERVED);
      const compensation = rng.chance(0.3);
      const step = compensation
        ? { ...evalStep("a"), compensation: { tool: name, args: {} } }
        : { ...evalStep("a"), toolCalls: [{ tool: name, args: { expression: "1" } }] };
      return {
        payload: json(validSubmission(id, { plan: { steps: [step] } })),
        pathPrefix: compensation ? "plan.steps.0.compensation.tool" : "plan.steps.0.toolCalls.0.tool",
        note: `${compensation ? "compensation " : ""}tool "${name}"`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name as metadata key",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const name = rng.pick(RESERVED);
      // Written as text: an object literal with a `__proto__` key would set the prototype instead.
      const sub = validSubmission(id, { metadata: DEEP });
      return {
        payload: withDeep(sub, `{"ok":"fine",${JSON.stringify(name)}:"x"}`),
        pathPrefix: `metadata.${name}`,
        note: `metadata key "${name}"`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: __proto__ as a key anywhere",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng, id }) => {
      const proto = '"__proto__":{"limit":999,"polluted":true}';
      const step = (call: string) => `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[${call}]}]}`;
      const spots: [string, string, string][] = [
        [
          "plan.steps.0.toolCalls.0.args.__proto__",
          `{"steps":[{"id":"a","agent":"research","instruction":"i","toolCalls":[{"tool":"search_documents","args":{"query":"fs",${proto}}}]}]}`,
          "search_documents args (additionalProperties: false)",
        ],
        [
          "plan.steps.0.toolCalls.0.args.data.rows.0.__proto__",
          step(`{"tool":"run_javascript","args":{"code":"return 1","data":{"rows":[{"a":1,${proto}}]}}}`),
          "free-form run_javascript data, nested",
        ],
        [
          "plan.steps.0.toolCalls.0.args.scope.__proto__",
          step(`{"tool":"evaluate_expression","args":{"expression":"1","scope":{${proto}}}}`),
          "evaluate_expression scope",
        ],
        [
          "plan.steps.0.__proto__",
          `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}],${proto}}]}`,
          "a plan step",
        ],
        [
          "plan.__proto__",
          `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}]}],${proto}}`,
          "the plan",
        ],
      ];
      if (rng.chance(0.25)) {
        return {
          payload: `{"taskId":${json(id)},"goal":"g",${proto},"plan":${json({ steps: [evalStep("a")] })}}`,
          pathPrefix: "__proto__",
          note: "__proto__ as a top-level key",
        };
      }
      const [path, plan, what] = rng.pick(spots);
      return { payload: `{"taskId":${json(id)},"goal":"g","plan":${plan}}`, pathPrefix: path, note: `__proto__ as a key in ${what}` };
    },
  },
  {
    name: "VALIDATION_FAILED: wide, not deep (up to 400,000 elements or keys)",
    expected: "VALIDATION_FAILED",
    weight: 2,
    make: ({ rng, id }) => {
      const n = rng.pick([50_000, 100_000, 400_000]);
      const wide = rng.chance(0.5)
        ? `[${Array.from({ length: n }, () => "0").join(",")}]`
        : `{${Array.from({ length: Math.min(n, 60_000) }, (_, i) => `"k${i}":0`).join(",")}}`;
      const spots: [string, Obj][] = [
        ["metadata.wide", { metadata: { wide: DEEP } }],
        ["budget.maxTokens", { budget: { maxTokens: DEEP } }],
        ["plan.steps.0.retry", { plan: { steps: [{ ...evalStep("a"), retry: DEEP }] } }],
        ["metadata", { metadata: DEEP }],
      ];
      const [path, extra] = rng.pick(spots);
      return {
        payload: withDeep(validSubmission(id, extra), wide),
        pathPrefix: path,
        note: `${path} = ${wide.startsWith("[") ? `an array of ${n} zeros` : `an object of ${Math.min(n, 60_000)} keys`}`,
      };
    },
  },
  // -- sizes and counts ------------------------------------------------------------------------
  {
    name: "VALIDATION_FAILED: too many metadata entries",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const n = rng.chance(0.1) ? 10_000 : rng.int(MAX_METADATA_ENTRIES + 1, 500);
      const metadata = Object.fromEntries(Array.from({ length: n }, (_, i) => [`key${i}`, "v"]));
      return { payload: json(validSubmission(id, { metadata })), pathPrefix: "metadata", note: `${n} metadata entries` };
    },
  },
  {
    name: "VALIDATION_FAILED: 10,000 metadata keys",
    expected: "VALIDATION_FAILED",
    weight: 2,
    make: ({ rng, id }) => {
      const metadata = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`${rng.string(8)}${i}`, rng.string(rng.int(1, 20))]));
      return { payload: json(validSubmission(id, { metadata })), pathPrefix: "metadata", note: "10,000 metadata keys" };
    },
  },
  {
    name: "VALIDATION_FAILED: bad metadata entry",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const cases: [string, string, unknown, string][] = [
        ["long", "long", filler(257), "a 257-character value"],
        ["num", "num", 7, "a number value"],
        ["obj", "obj", {}, "an object value"],
        ["arr", "arr", ["x"], "an array value"],
        ["nul", "nul", null, "a null value"],
        ["a b", "a b", "x", "a key with a space"],
        ["a/b", "a/b", "x", "a key with a slash"],
        ["", "", "x", "an empty key"],
        [filler(65, "k"), filler(65, "k"), "x", "a 65-character key"],
        ["ключ", "ключ", "x", "a Cyrillic key"],
      ];
      const [key, path, value, what] = rng.pick(cases);
      return {
        payload: json(validSubmission(id, { metadata: { ok: "fine", [key]: value } })),
        pathPrefix: path === "" ? "metadata" : `metadata.${path}`,
        note: `metadata with ${what}`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: tool args over MAX_TOOL_ARGS_BYTES",
    expected: "VALIDATION_FAILED",
    weight: 4,
    make: ({ rng, id }) => {
      const code = "return 1";
      const overhead = Buffer.byteLength(json({ code, data: "" }));
      const bytes = rng.pick([MAX_TOOL_ARGS_BYTES + 1, 300_000, 600_000, 900_000]);
      const args = { code, data: filler(bytes - overhead, "a") };
      return {
        payload: json(
          validSubmission(id, {
            plan: { steps: [{ id: "a", agent: "code", instruction: "big", toolCalls: [{ tool: "run_javascript", args }] }] },
          }),
        ),
        pathPrefix: "plan.steps.0.toolCalls.0.args",
        note: `args of ${bytes} bytes as JSON`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: 900 KB tool args",
    expected: "VALIDATION_FAILED",
    weight: 2,
    make: ({ rng, id }) => {
      // Many small values rather than one string: more work for every check that walks the args.
      const rows: { i: number; s: string }[] = [];
      for (let bytes = 0; bytes < 900_000; bytes += json(rows.at(-1)).length + 1) rows.push({ i: rows.length, s: rng.string(6) });
      return {
        payload: json(
          validSubmission(id, {
            plan: {
              steps: [
                {
                  id: "a",
                  agent: "code",
                  instruction: "big",
                  toolCalls: [{ tool: "run_javascript", args: { code: "return 1", data: rows } }],
                },
              ],
            },
          }),
        ),
        pathPrefix: "plan.steps.0.toolCalls.0.args",
        note: `args of about 900 KB: ${rows.length} small objects`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: exactly MAX_SUBMISSION_BYTES (not too large, goal too long)",
    expected: "VALIDATION_FAILED",
    weight: 1,
    make: ({ id }) => {
      const head = json({ taskId: id, goal: "" });
      return {
        payload: json({ taskId: id, goal: filler(MAX_SUBMISSION_BYTES - Buffer.byteLength(head), "g") }),
        pathPrefix: "goal",
        note: "a submission of exactly 1,048,576 bytes (its goal too long)",
      };
    },
  },
  {
    name: "VALIDATION_FAILED: too many steps, tool calls or dependencies",
    expected: "VALIDATION_FAILED",
    weight: 4,
    make: ({ rng, id }) => {
      const which = rng.int(0, 2);
      if (which === 0) {
        const steps = Array.from({ length: rng.int(65, 200) }, (_, i) => evalStep(`s${i}`));
        return { payload: json(validSubmission(id, { plan: { steps } })), pathPrefix: "plan.steps", note: `${steps.length} steps` };
      }
      if (which === 1) {
        const calls = Array.from({ length: rng.int(17, 100) }, () => ({ tool: "evaluate_expression", args: { expression: "1" } }));
        return {
          payload: json(validSubmission(id, { plan: { steps: [{ ...evalStep("a"), toolCalls: calls }] } })),
          pathPrefix: "plan.steps.0.toolCalls",
          note: `${calls.length} tool calls in a step`,
        };
      }
      const deps = Array.from({ length: 65 }, (_, i) => `d${i}`);
      return {
        payload: json(validSubmission(id, { plan: { steps: [...deps.map((d) => evalStep(d)), evalStep("z", { dependsOn: deps })] } })),
        pathPrefix: "plan.steps",
        note: "66 steps, one with 65 dependencies",
      };
    },
  },
  // -- ids -------------------------------------------------------------------------------------
  {
    name: "VALIDATION_FAILED: 129-character taskId",
    expected: "VALIDATION_FAILED",
    weight: 4,
    make: ({ id }) => {
      const taskId = padId(id, 129);
      return { key: taskId, payload: json(validSubmission(taskId)), pathPrefix: "taskId", note: "a 129-character taskId" };
    },
  },
  {
    name: "VALIDATION_FAILED: 129-character step id, dependency or reference",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const long = padId("s-", 129);
      const which = rng.int(0, 2);
      if (which === 0)
        return {
          payload: json(validSubmission(id, { plan: { steps: [evalStep(long)] } })),
          pathPrefix: "plan.steps.0.id",
          note: "a 129-character step id",
        };
      if (which === 1) {
        return {
          payload: json(validSubmission(id, { plan: { steps: [evalStep("a"), evalStep("b", { dependsOn: [long] })] } })),
          pathPrefix: "plan.steps.1.dependsOn.0",
          note: "a 129-character dependsOn",
        };
      }
      const call = { tool: "evaluate_expression", args: { expression: "x", scope: { x: { $fromStep: long, path: "" } } } };
      return {
        payload: json(
          validSubmission(id, {
            plan: { steps: [evalStep("a"), { id: "b", agent: "code", instruction: "ref", dependsOn: ["a"], toolCalls: [call] }] },
          }),
        ),
        pathPrefix: "plan.steps.1.toolCalls.0.args.scope.x",
        note: "a 129-character $fromStep",
      };
    },
  },
  {
    name: "VALIDATION_FAILED: agent or tool name too long or malformed",
    expected: "VALIDATION_FAILED",
    weight: 4,
    make: ({ rng, id }) => {
      const cases: [Obj, string, string][] = [
        [evalStep("a", { agent: `a${filler(32, "b")}` }), "plan.steps.0.agent", "a 33-character agent name"],
        [evalStep("a", { agent: "Code" }), "plan.steps.0.agent", "an agent name with a capital"],
        [evalStep("a", { agent: "code.agent" }), "plan.steps.0.agent", "an agent name with a dot"],
        [evalStep("a", { agent: "*" }), "plan.steps.0.agent", 'agent "*"'],
        [
          { ...evalStep("a"), toolCalls: [{ tool: filler(65, "t"), args: {} }] },
          "plan.steps.0.toolCalls.0.tool",
          "a 65-character tool name",
        ],
        [
          { ...evalStep("a"), toolCalls: [{ tool: "evaluate expression", args: {} }] },
          "plan.steps.0.toolCalls.0.tool",
          "a tool name with a space",
        ],
        [{ ...evalStep("a"), toolCalls: [{ tool: "", args: {} }] }, "plan.steps.0.toolCalls.0.tool", "an empty tool name"],
      ];
      const [step, path, what] = rng.pick(cases);
      return { payload: json(validSubmission(id, { plan: { steps: [step] } })), pathPrefix: path, note: what };
    },
  },
  {
    name: "VALIDATION_FAILED: taskId with characters not allowed",
    expected: "VALIDATION_FAILED",
    weight: 4,
    make: ({ rng, id }) => {
      const taskId = `${id}${rng.pick([".b", " b", "*", ">", ".>", "/x", "é", unicodeNotId(rng, 3), "\t"])}`;
      return { key: taskId, payload: json(validSubmission(taskId)), pathPrefix: "taskId", note: `taskId ${JSON.stringify(taskId)}` };
    },
  },
  {
    name: "VALIDATION_FAILED: random Unicode in a step id or dependency",
    expected: "VALIDATION_FAILED",
    weight: 3,
    make: ({ rng, id }) => {
      const name = `s${unicodeNotId(rng, rng.int(1, 8))}`;
      const dep = rng.chance(0.5);
      return {
        payload: json(
          validSubmission(id, { plan: { steps: dep ? [evalStep("a"), evalStep("b", { dependsOn: [name] })] : [evalStep(name)] } }),
        ),
        pathPrefix: dep ? "plan.steps.1.dependsOn.0" : "plan.steps.0.id",
        note: `${dep ? "dependsOn" : "step id"} ${JSON.stringify(name)}`,
      };
    },
  },
  // -- text ------------------------------------------------------------------------------------
  badTextCategory(
    "VALIDATION_FAILED: control character in free text",
    10,
    CONTROL_CHARS,
    (c) => `U+${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  ),
  badTextCategory("VALIDATION_FAILED: unpaired surrogate in free text", 8, LONE_SURROGATES, (c) => JSON.stringify(c)),
  {
    name: "VALIDATION_FAILED: raw DEL or C1 control (valid JSON) in the goal",
    expected: "VALIDATION_FAILED",
    weight: 3,
    make: ({ rng, id }) => {
      const raw = rng.pick(["\u007f", "\u0085", "\u009b"]);
      // JSON.stringify leaves these unescaped: they are legal in JSON strings, and refused by the contract.
      return {
        payload: `{"taskId":${json(id)},"goal":"bad ${raw} goal","plan":${json({ steps: [evalStep("a")] })}}`,
        pathPrefix: "goal",
        note: `raw U+${(raw.codePointAt(0) ?? 0).toString(16).padStart(4, "0")} in the goal`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: huge strings",
    expected: "VALIDATION_FAILED",
    weight: 5,
    make: ({ rng, id }) => {
      const where = rng.int(0, 2);
      if (where === 0) {
        const n = rng.chance(0.2) ? 900_000 : rng.pick([10_001, 50_000]);
        return { payload: json(validSubmission(id, { goal: filler(n, "g") })), pathPrefix: "goal", note: `a ${n}-character goal` };
      }
      if (where === 1) {
        const n = rng.chance(0.2) ? 900_000 : rng.pick([4_001, 100_000]);
        return {
          payload: json(validSubmission(id, { plan: { steps: [evalStep("a", { instruction: filler(n, "i") })] } })),
          pathPrefix: "plan.steps.0.instruction",
          note: `a ${n}-character instruction`,
        };
      }
      const n = rng.pick([257, 100_000]);
      return {
        payload: json(validSubmission(id, { metadata: { big: filler(n, "m") } })),
        pathPrefix: "metadata.big",
        note: `a ${n}-character metadata value`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: blank goal or instruction",
    expected: "VALIDATION_FAILED",
    weight: 3,
    make: ({ rng, id }) => {
      const blank = rng.pick(["", " ", "\t\n\r", "\u3000\u2003", "\ufeff"]);
      const goal = rng.chance(0.5);
      return {
        payload: json(
          goal ? validSubmission(id, { goal: blank }) : validSubmission(id, { plan: { steps: [evalStep("a", { instruction: blank })] } }),
        ),
        pathPrefix: goal ? "goal" : "plan.steps.0.instruction",
        note: `${goal ? "goal" : "instruction"} ${JSON.stringify(blank)}`,
      };
    },
  },
  // -- structure and types ---------------------------------------------------------------------
  {
    name: "VALIDATION_FAILED: wrong type at a random field",
    expected: "VALIDATION_FAILED",
    weight: 40,
    make: ({ rng, id }) => {
      const field = rng.pick(TYPED_FIELDS);
      const value = rng.pick(wrongValues(field.type));
      const sub = validSubmission(id, {
        plan: {
          steps: [
            evalStep("a", {
              timeoutMs: 10_000,
              retry: { maxAttempts: 2 },
              compensation: { tool: "evaluate_expression", args: { expression: "0" } },
            }),
          ],
          failurePolicy: "continue",
          approval: { all: false },
        },
        timeoutMs: 600_000,
        budget: { maxTokens: 1_000, maxCostUsd: 1 },
        metadata: { k: "v" },
      });
      setAt(sub, field.path, value);
      const path = field.path.join(".");
      return { payload: json(sub), pathPrefix: path, note: `${path} = ${json(value)}` };
    },
  },
  {
    name: "VALIDATION_FAILED: unknown field in a strict object",
    expected: "VALIDATION_FAILED",
    weight: 5,
    make: ({ rng, id }) => {
      const key = rng.pick(["extra", "__proto__", "constructor", "toolcalls", "depends_on"]);
      const spots: [string, (extra: string) => string][] = [
        [
          "plan.steps.0",
          (e) =>
            `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}],${e}}]}`,
        ],
        [
          "plan.steps.0.toolCalls.0",
          (e) =>
            `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"},${e}}]}]}`,
        ],
        [
          "plan",
          (e) =>
            `{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}]}],${e}}`,
        ],
      ];
      const [path, plan] = rng.pick(spots);
      return {
        payload: `{"taskId":${json(id)},"goal":"g","plan":${plan(`${json(key)}:{"x":1}`)}}`,
        pathPrefix: path,
        note: `unknown key ${json(key)} in ${path}`,
      };
    },
  },
  {
    name: "VALIDATION_FAILED: invalid budget, timeout or version",
    expected: "VALIDATION_FAILED",
    weight: 5,
    make: ({ rng, id }) => {
      const cases: [string, string, string][] = [
        ['"budget":{"maxTokens":-5}', "budget.maxTokens", "negative maxTokens"],
        ['"budget":{"maxTokens":0.5}', "budget.maxTokens", "fractional maxTokens"],
        ['"budget":{"maxCostUsd":0}', "budget.maxCostUsd", "maxCostUsd 0"],
        ['"budget":{"maxWallTimeMs":86400001}', "budget.maxWallTimeMs", "maxWallTimeMs over a day"],
        ['"budget":{"tokens":5}', "budget", "unknown budget field"],
        ['"timeoutMs":0', "timeoutMs", "timeoutMs 0"],
        ['"timeoutMs":1e400', "timeoutMs", "timeoutMs 1e400 (Infinity)"],
        ['"timeoutMs":86400001', "timeoutMs", "timeoutMs over a day"],
        ['"timeoutMs":-1', "timeoutMs", "timeoutMs -1"],
        ['"schemaVersion":2', "schemaVersion", "schemaVersion 2"],
        ['"schemaVersion":"1"', "schemaVersion", 'schemaVersion "1"'],
        ['"plan":{"steps":[]}', "plan.steps", "no steps"],
        [
          '"plan":{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}],"retry":{"maxAttempts":11}}]}',
          "plan.steps.0.retry.maxAttempts",
          "retry.maxAttempts 11",
        ],
        [
          '"plan":{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1"}}],"timeoutMs":3600001}]}',
          "plan.steps.0.timeoutMs",
          "step timeoutMs over an hour",
        ],
        [
          '"plan":{"steps":[{"id":"a","agent":"code","instruction":"i","toolCalls":[{"tool":"evaluate_expression","args":{"expression":"1","x":{"$fromStep":"a","path":"no-slash"}}}]}]}',
          "plan.steps.0.toolCalls.0.args.x",
          "a $fromStep path that is not a JSON Pointer",
        ],
      ];
      const [field, path, what] = rng.pick(cases);
      const base = field.startsWith('"plan"')
        ? `{"taskId":${json(id)},"goal":"g",${field}}`
        : `{"taskId":${json(id)},"goal":"g","plan":${json({ steps: [evalStep("a")] })},${field}}`;
      return { payload: base, pathPrefix: path, note: what };
    },
  },
  {
    name: "VALIDATION_FAILED: invalid DAG",
    expected: "VALIDATION_FAILED",
    weight: 10,
    make: ({ rng, id }) => {
      const fault = dagFault(rng);
      return { payload: json(validSubmission(id, { plan: fault.plan })), pathPrefix: fault.pathPrefix, note: fault.note };
    },
  },
  // -- checked against the agent cards ---------------------------------------------------------
  {
    name: "PLANNER_UNAVAILABLE: goal without a plan",
    expected: "PLANNER_UNAVAILABLE",
    weight: 8,
    make: ({ rng, id }) => ({
      payload: json({
        taskId: id,
        goal: `plan this: ${cleanUnicode(rng, rng.int(1, 50))}`,
        ...(rng.chance(0.5) ? { metadata: { by: "fuzz" }, budget: { maxTokens: 100 } } : {}),
      }),
      pathPrefix: "plan",
      note: "a goal and no plan (no LLM configured)",
    }),
  },
  {
    name: "LLM_UNAVAILABLE: step without tool calls",
    expected: "LLM_UNAVAILABLE",
    weight: 5,
    make: ({ rng, id }) => {
      const agent = rng.pick(["code", "data", "research"]);
      return {
        payload: json(validSubmission(id, { plan: { steps: [{ id: "a", agent, instruction: "figure it out", toolCalls: [] }] } })),
        pathPrefix: "plan.steps.0.toolCalls",
        note: `a ${agent} step with no tool calls`,
      };
    },
  },
  {
    name: "UNKNOWN_AGENT: agent not registered",
    expected: "UNKNOWN_AGENT",
    weight: 8,
    make: ({ rng, id }) => {
      const agent = rng.pick(["finance", "tickets", "mcp", `x${rng.string(rng.int(0, 31))}`, "a", "research-agent"]);
      return {
        payload: json(validSubmission(id, { plan: { steps: [evalStep("a", { agent })] } })),
        pathPrefix: "plan.steps.0.agent",
        note: `agent "${agent}"`,
      };
    },
  },
  {
    name: "UNKNOWN_TOOL: tool the agent does not have",
    expected: "UNKNOWN_TOOL",
    weight: 8,
    make: ({ rng, id }) => {
      const [agent, tool] = rng.pick([
        ["code", "sql_query"],
        ["data", "evaluate_expression"],
        ["research", "run_javascript"],
        ["code", `t_${rng.string(rng.int(1, 60))}`],
        ["data", "DROP"],
        ["research", "Search_Documents"],
      ] as const);
      return {
        payload: json(validSubmission(id, { plan: { steps: [{ id: "a", agent, instruction: "x", toolCalls: [{ tool, args: {} }] }] } })),
        pathPrefix: "plan.steps.0.toolCalls.0.tool",
        note: `agent "${agent}", tool "${tool}"`,
      };
    },
  },
  {
    name: "INVALID_ARGUMENTS: args failing the tool's schema",
    expected: "INVALID_ARGUMENTS",
    weight: 10,
    make: ({ rng, id }) => {
      const bad = rng.pick(BAD_ARGS);
      return {
        payload: json(
          validSubmission(id, {
            plan: { steps: [{ id: "a", agent: bad.agent, instruction: "x", toolCalls: [{ tool: bad.tool, args: bad.args }] }] },
          }),
        ),
        pathPrefix: "plan.steps.0.toolCalls.0.args",
        note: `${bad.agent}/${bad.tool}: ${bad.why}`,
      };
    },
  },
  // -- no taskId to match by: the serial phase -------------------------------------------------
  {
    name: "INVALID_JSON: random garbage",
    expected: "INVALID_JSON",
    weight: 25,
    make: ({ rng }) => {
      const alphabet = '{}[]":,0123456789.-+eEtruefalsnl \n\t\\/abcxyz\u00e9\u4e2d';
      const text = rng.string(rng.int(0, 300), alphabet);
      const bytes = encoder.encode(text);
      return {
        key: null,
        payload: bytes,
        expected: expectedForGarbage(bytes),
        note: `${bytes.byteLength} bytes of random JSON-ish characters`,
      };
    },
  },
  {
    name: "INVALID_JSON: random bytes",
    expected: "INVALID_JSON",
    weight: 10,
    make: ({ rng }) => {
      const bytes = Uint8Array.from({ length: rng.int(1, 2_000) }, () => rng.int(0, 255));
      return { key: null, payload: bytes, expected: expectedForGarbage(bytes), note: `${bytes.byteLength} random bytes` };
    },
  },
  {
    name: "INVALID_JSON: truncated submission",
    expected: "INVALID_JSON",
    weight: 20,
    make: ({ rng, id }) => {
      const full = json(validShape(rng, id));
      const cut = full.slice(0, rng.int(0, full.length - 1));
      const bytes = encoder.encode(cut);
      return {
        key: null,
        payload: bytes,
        expected: expectedForGarbage(bytes),
        note: `a valid submission cut after ${cut.length} of ${full.length} characters`,
      };
    },
  },
  {
    name: "INVALID_JSON: not UTF-8",
    expected: "INVALID_JSON",
    weight: 10,
    make: ({ rng, id }) => {
      const sequences: [number[], string][] = [
        [[0xff], "byte 0xFF"],
        [[0xc0, 0xaf], "overlong '/'"],
        [[0xc0, 0x80], "overlong NUL"],
        [[0xed, 0xa0, 0x80], "an encoded surrogate (CESU-8)"],
        [[0xe2, 0x82], "a truncated 3-byte sequence"],
        [[0x80], "a lone continuation byte"],
        [[0xe9], "Latin-1 'é'"],
        [[0xf8, 0x88, 0x80, 0x80, 0x80], "a 5-byte sequence"],
        [[0xf4, 0x90, 0x80, 0x80], "a code point over U+10FFFF"],
      ];
      const [bad, what] = rng.pick(sequences);
      const text = json(validSubmission(id, { goal: "GOAL" }));
      const at = text.indexOf("GOAL");
      const bytes = Uint8Array.from([...encoder.encode(text.slice(0, at)), ...bad, ...encoder.encode(text.slice(at + 4))]);
      return { key: null, payload: bytes, note: `${what} inside the goal string` };
    },
  },
  {
    name: "INVALID_JSON: unescaped control character in a string",
    expected: "INVALID_JSON",
    weight: 5,
    make: ({ rng, id }) => {
      const c = String.fromCharCode(rng.pick([0x00, 0x01, 0x08, 0x0a, 0x1b, 0x1f]));
      return {
        key: null,
        payload: `{"taskId":${json(id)},"goal":"a${c}b","plan":${json({ steps: [evalStep("a")] })}}`,
        note: `raw 0x${c.charCodeAt(0).toString(16).padStart(2, "0")} inside the goal string`,
      };
    },
  },
  {
    name: "INVALID_JSON: empty, blank or not quite JSON",
    expected: "INVALID_JSON",
    weight: 8,
    make: ({ rng, id }) => {
      const good = json(validSubmission(id));
      const cases: [string, string][] = [
        ["", "an empty message"],
        [" \n\t ", "only whitespace"],
        [`${good}x`, "trailing garbage"],
        [`${good}${good}`, "two submissions back to back"],
        [good.replaceAll('"', "'"), "single quotes"],
        [good.replace("{", "{ // comment\n"), "a comment"],
        [good.replace('"plan"', "plan"), "an unquoted key"],
        [good.replace(/}$/, ",}"), "a trailing comma"],
        [`{"taskId":${json(id)},"goal":"g","timeoutMs":NaN}`, "NaN"],
        [`{"taskId":${json(id)},"goal":"g","timeoutMs":0x10}`, "a hex number"],
        [`\ufeff\ufeff${good}`, "two byte-order marks"],
      ];
      const [text, what] = rng.pick(cases);
      const bytes = encoder.encode(text);
      return { key: null, payload: bytes, expected: expectedForGarbage(bytes), note: what };
    },
  },
  {
    name: "VALIDATION_FAILED: JSON that is not an object",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const text = rng.pick([
        "null",
        "0",
        "-1e308",
        '"tasks.submit"',
        "true",
        "[]",
        "{}",
        json([validSubmission(id)]),
        `"${filler(1_000, "s")}"`,
      ]);
      return { key: null, payload: text, note: `the JSON value ${text.slice(0, 40)}` };
    },
  },
  {
    name: "VALIDATION_FAILED: reserved name as taskId",
    expected: "VALIDATION_FAILED",
    weight: 8,
    make: ({ rng }) => {
      const name = rng.pick(RESERVED);
      return { key: null, payload: json(validSubmission(name)), pathPrefix: "taskId", note: `taskId "${name}"` };
    },
  },
  {
    name: "VALIDATION_FAILED: taskId unreadable (wrong type, control character, over 256 characters)",
    expected: "VALIDATION_FAILED",
    weight: 6,
    make: ({ rng, id }) => {
      const cases: [unknown, string][] = [
        [7, "a number"],
        [null, "null"],
        [[id], "an array"],
        [{ id }, "an object"],
        [true, "a boolean"],
        [`${id}\u0000`, "with a NUL"],
        [`${id}\ud800`, "with a lone surrogate"],
        [padId(id, 257), "257 characters"],
        [padId(id, 100_000), "100,000 characters"],
      ];
      const [taskId, what] = rng.pick(cases);
      return { key: null, payload: json(validSubmission(id, { taskId })), pathPrefix: "taskId", note: `taskId ${what}` };
    },
  },
  {
    name: "VALIDATION_FAILED: the whole submission nested too deep",
    expected: "VALIDATION_FAILED",
    weight: 3,
    make: ({ rng }) => {
      const depth = pickDepth(rng);
      const shape = rng.pick(SHAPES);
      return { key: null, payload: nestedText(depth, shape), note: `a bare value nested ${depth} levels (${shape})` };
    },
  },
  {
    name: "VALIDATION_FAILED: taskId nested too deep",
    expected: "VALIDATION_FAILED",
    weight: 2,
    make: ({ rng, id }) => {
      const depth = pickDepth(rng);
      return {
        key: null,
        payload: withDeep(validSubmission(id, { taskId: DEEP }), nestedText(depth, rng.pick(SHAPES))),
        pathPrefix: "taskId",
        note: `taskId nested ${depth} levels`,
      };
    },
  },
  {
    name: "PAYLOAD_TOO_LARGE: over MAX_SUBMISSION_BYTES",
    expected: "PAYLOAD_TOO_LARGE",
    weight: 1,
    make: ({ rng, id }) => {
      const size = rng.chance(0.1) ? 7_000_000 : rng.pick([MAX_SUBMISSION_BYTES + 1, MAX_SUBMISSION_BYTES + 1_000, 2_000_000]);
      const head = json({ taskId: id, goal: "" });
      const which = rng.int(0, 1);
      const text =
        which === 0
          ? json({ taskId: id, goal: filler(size - Buffer.byteLength(head), "g") })
          : `{"taskId":${json(id)},"goal":"g","x":${nestedText(Math.floor((size - head.length) / 2), "array")}}`.padEnd(size, " ");
      return { key: null, payload: text, note: `${Buffer.byteLength(text)} bytes (${which === 0 ? "a long goal" : "deep nesting"})` };
    },
  },
];

/** The category names, in definition order (the report's row order). */
export const CATEGORY_NAMES: readonly string[] = CATEGORIES.map((c) => c.name);

/** Options of {@link generateHostileCorpus}. */
export interface CorpusOptions {
  /** How many submissions (exactly). */
  readonly count: number;
  /** PRNG seed: the same seed and count give the same corpus. */
  readonly seed: number;
  /** Prefix of every generated taskId: letters, digits and `-` (keep it unique per stack when reusing one). */
  readonly prefix?: string;
}

/**
 * A corpus of `count` hostile submissions: categories drawn by weight, with one of every category
 * (as far as `count` allows) placed at evenly spaced positions. Each gets a fresh valid taskId when its
 * category can carry one.
 */
export function generateHostileCorpus(options: CorpusOptions): HostileSubmission[] {
  const rng = new Rng(options.seed);
  const prefix = options.prefix ?? `fz${options.seed}`;
  const out: HostileSubmission[] = [];
  let ids = 0;
  const nextId = () => `${prefix}-${(ids++).toString(36)}`;
  /** taskId → the `make` call that produced it. */
  const keyOwner = new Map<string, number>();
  let calls = 0;
  const total = CATEGORIES.reduce((s, c) => s + c.weight, 0);
  const draw = (): Category => {
    let r = rng.next() * total;
    for (const c of CATEGORIES) {
      r -= c.weight;
      if (r < 0) return c;
    }
    return CATEGORIES[0] as Category;
  };
  // One of each category (in a seeded order) at evenly spaced places, so heavy ones do not bunch up.
  const firstRound = rng.shuffle([...CATEGORIES]);
  const spacing = Math.max(1, options.count / firstRound.length);
  let covered = 0;
  while (out.length < options.count) {
    const category = covered < firstRound.length && out.length >= covered * spacing ? (firstRound[covered++] as Category) : draw();
    const ctx: MakeContext = { rng, id: nextId(), nextId };
    const madeOne = category.make(ctx);
    const made = Array.isArray(madeOne) ? madeOne : [madeOne];
    if (out.length + made.length > options.count) continue; // a pair that no longer fits
    const start = out.length;
    calls++;
    made.forEach((m, i) => {
      const payload = typeof m.payload === "string" ? encoder.encode(m.payload) : m.payload;
      const key = m.key === undefined ? ctx.id : m.key;
      // Only the submissions of one pair may share a taskId: anything else could not be matched.
      if (key !== null && (keyOwner.get(key) ?? calls) !== calls)
        throw new Error(`generator bug: taskId ${JSON.stringify(key)} used twice (${category.name})`);
      if (key !== null) keyOwner.set(key, calls);
      out.push({
        index: start + i,
        category: m.category ?? category.name,
        expected: m.expected ?? category.expected,
        key,
        payload,
        ...(m.pathPrefix !== undefined ? { pathPrefix: m.pathPrefix } : {}),
        ...(m.afterBack !== undefined ? { after: start + i - m.afterBack } : {}),
        ...(m.burst ? { burst: true } : {}),
        note: m.note,
      });
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running a corpus against a stack

/** One answer seen for a submission. */
export interface Answer {
  /** The rejection's code, or the event type (`accepted`, `resubmitted`). */
  readonly kind: string;
  /** performance.now() when it arrived, ms. */
  readonly at: number;
  readonly taskId: string | null;
  readonly rejection?: TaskRejected;
}

/** What became of one submission. */
export interface SubmissionResult {
  readonly item: HostileSubmission;
  /** performance.now() just before the publish, ms (NaN: never published). */
  publishedAt: number;
  /** The first answer. */
  answer?: Answer;
  /** Further answers with the same key that no other submission could take. */
  readonly extra: Answer[];
  /** The publish failed (the error message). */
  publishError?: string;
  /** For accepted tasks: `completed` or `failed` once the outcome arrived. */
  outcome?: "completed" | "failed";
  /** Whether the task's `planned` event was seen (accepted ones). */
  planned: boolean;
}

/** Options of {@link runHostileCorpus}. */
export interface RunOptions {
  /** Submissions per second in the concurrent phase. */
  readonly ratePerSecond: number;
  /** How long a submission may wait for its answer before it counts as unanswered, ms (default 10,000). */
  readonly answerTimeoutMs?: number;
  /** After the last keyed publish, how long to wait for the keyed answers before the serial phase, ms (default 60,000). */
  readonly drainTimeoutMs?: number;
  /** How long to wait for the outcomes of accepted tasks, ms (default 60,000). */
  readonly outcomeTimeoutMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** Everything a run saw. */
export interface CorpusRun {
  readonly results: SubmissionResult[];
  /** Answers no submission could take (a rejection without a matching taskId, a second answer, …). */
  readonly strays: Answer[];
  /** Rejections that do not satisfy the TaskRejected schema, and events that are not JSON (the raw text). */
  readonly malformed: string[];
  /** Wall time of the concurrent and serial phases, ms. */
  readonly concurrentMs: number;
  readonly serialMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Publishes `corpus` on `tasks.submit` through JetStream and matches every answer
 * (`tasks.rejected`, `accepted` and `resubmitted` events on `tasks.events.<taskId>.task`) to its
 * submission. Keyed submissions go first, at `ratePerSecond`, each when its time comes (a
 * submission with `after` once that one is answered and planned; a `burst` one together with its
 * predecessor); then the unkeyed ones one at a time. Also records the outcomes of accepted tasks.
 */
export async function runHostileCorpus(nc: NatsConnection, corpus: readonly HostileSubmission[], options: RunOptions): Promise<CorpusRun> {
  const js = jetstream(nc);
  const log = options.log ?? (() => {});
  const answerTimeoutMs = options.answerTimeoutMs ?? 10_000;
  const results = corpus.map((item): SubmissionResult => ({ item, publishedAt: Number.NaN, extra: [], planned: false }));
  const byKey = new Map<string, SubmissionResult[]>();
  for (const r of results) {
    if (r.item.key === null) continue;
    const list = byKey.get(r.item.key) ?? [];
    list.push(r);
    byKey.set(r.item.key, list);
  }
  const strays: Answer[] = [];
  const malformed: string[] = [];
  let serialCurrent: SubmissionResult | undefined;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };

  const route = (answer: Answer) => {
    const candidates = answer.taskId === null ? undefined : byKey.get(answer.taskId);
    if (candidates) {
      const open = candidates.filter((r) => !Number.isNaN(r.publishedAt) && !r.answer);
      const target = open.find((r) => r.item.expected === answer.kind) ?? open[0];
      if (target) target.answer = answer;
      else (candidates.at(-1) as SubmissionResult).extra.push(answer);
    } else if (serialCurrent && !serialCurrent.answer) {
      serialCurrent.answer = answer;
    } else if (serialCurrent) {
      serialCurrent.extra.push(answer);
    } else {
      strays.push(answer);
    }
    wake();
  };

  const subs: Subscription[] = [
    nc.subscribe(subjects.rejected, {
      callback: (_err, msg) => {
        const at = performance.now();
        const text = msg.string();
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const parsed = TaskRejected.safeParse(body);
        if (!parsed.success) {
          malformed.push(text.slice(0, 2_000));
          return;
        }
        route({ kind: parsed.data.error.code, at, taskId: parsed.data.taskId, rejection: parsed.data });
      },
    }),
    nc.subscribe("tasks.events.*.task", {
      callback: (_err, msg) => {
        const at = performance.now();
        let event: { type?: string; taskId?: string };
        try {
          event = JSON.parse(msg.string()) as { type?: string; taskId?: string };
        } catch {
          malformed.push(msg.string().slice(0, 2_000));
          return;
        }
        if (event.type === "accepted" || event.type === "resubmitted") route({ kind: event.type, at, taskId: event.taskId ?? null });
        else if (event.type === "planned" && event.taskId) {
          for (const r of byKey.get(event.taskId) ?? []) if (r.answer?.kind === "accepted") r.planned = true;
          wake();
        }
      },
    }),
    nc.subscribe("tasks.*.*", {
      callback: (_err, msg) => {
        const [, status, taskId] = msg.subject.split(".");
        if ((status !== "completed" && status !== "failed") || !taskId) return;
        for (const r of byKey.get(taskId) ?? []) if (r.answer?.kind === "accepted" && !r.outcome) r.outcome = status;
        wake();
      },
    }),
  ];
  await nc.flush();

  /** Resolves when `done()` holds or `timeoutMs` passed. */
  const until = async (done: () => boolean, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (!done() && performance.now() < deadline) {
      await new Promise<void>((resolve) => {
        const w = () => {
          waiters.delete(w);
          resolve();
        };
        waiters.add(w);
        setTimeout(w, Math.min(100, Math.max(1, deadline - performance.now())));
      });
    }
    return done();
  };

  const publish = async (r: SubmissionResult) => {
    r.publishedAt = performance.now();
    try {
      await js.publish(subjects.submit, r.item.payload, { timeout: 30_000 });
    } catch (error) {
      r.publishError = error instanceof Error ? error.message : String(error);
    }
  };

  try {
    // Concurrent phase: keyed submissions at a steady rate.
    const keyed = results.filter((r) => r.item.key !== null);
    const interval = 1_000 / options.ratePerSecond;
    const started = performance.now();
    const pending: Promise<void>[] = [];
    /** Per keyed submission: resolves once its publish has gone out (a burst successor follows at once). */
    const sent: Promise<void>[] = [];
    let slot = 0;
    keyed.forEach((r, i) => {
      const burst = r.item.burst === true && i > 0;
      if (!burst) slot++;
      const due = started + (slot - 1) * interval;
      const after = r.item.after === undefined ? undefined : results[r.item.after];
      let markSent: () => void = () => {};
      sent.push(new Promise<void>((resolve) => (markSent = resolve)));
      const previous = burst ? sent[i - 1] : undefined;
      pending.push(
        (async () => {
          if (previous) await previous;
          else {
            const wait = due - performance.now();
            if (wait > 0) await sleep(wait);
          }
          if (after) await until(() => after.answer !== undefined && (after.answer.kind !== "accepted" || after.planned), answerTimeoutMs);
          const publishing = publish(r);
          markSent();
          await publishing;
        })(),
      );
    });
    let reported = 0;
    const progress = setInterval(() => {
      const answered = keyed.filter((r) => r.answer).length;
      if (answered - reported >= 1_000) {
        reported = answered;
        log(`  … ${answered}/${keyed.length} keyed submissions answered`);
      }
    }, 1_000);
    await Promise.all(pending);
    await until(() => keyed.every((r) => r.answer || r.publishError), options.drainTimeoutMs ?? 60_000);
    clearInterval(progress);
    const concurrentMs = performance.now() - started;
    log(`concurrent phase: ${keyed.length} submissions in ${(concurrentMs / 1_000).toFixed(1)} s`);

    // Serial phase: one unkeyed submission at a time, each answer to the one in flight.
    const serialStarted = performance.now();
    for (const r of results) {
      if (r.item.key !== null) continue;
      serialCurrent = r;
      await publish(r);
      await until(() => r.answer !== undefined || r.publishError !== undefined, answerTimeoutMs);
    }
    // A short grace for late or extra answers to land where they belong.
    await sleep(1_000);
    serialCurrent = undefined;
    const serialMs = performance.now() - serialStarted;
    log(`serial phase: ${results.length - keyed.length} submissions in ${(serialMs / 1_000).toFixed(1)} s`);

    const accepted = results.filter((r) => r.answer?.kind === "accepted");
    await until(() => accepted.every((r) => r.outcome), options.outcomeTimeoutMs ?? 60_000);
    return { results, strays, malformed, concurrentMs, serialMs };
  } finally {
    for (const s of subs) s.unsubscribe();
  }
}

// ---------------------------------------------------------------------------------------------
// Judging and reporting

/** Why a result is not what its submission needed, or undefined when it is. */
export function problemOf(r: SubmissionResult, maxLatencyMs: number): string | undefined {
  if (r.publishError) return `publish failed: ${r.publishError}`;
  if (!r.answer) return "no answer";
  if (r.answer.kind !== r.item.expected)
    return `answered ${r.answer.kind}${r.answer.rejection ? `: ${r.answer.rejection.error.message.slice(0, 300)}` : ""}`;
  const latency = r.answer.at - r.publishedAt;
  if (latency > maxLatencyMs) return `answered after ${Math.round(latency)} ms`;
  const rejection = r.answer.rejection;
  if (rejection) {
    if (rejection.receivedBytes !== r.item.payload.byteLength)
      return `receivedBytes ${rejection.receivedBytes}, published ${r.item.payload.byteLength}`;
    const prefix = r.item.pathPrefix;
    if (prefix !== undefined && !(rejection.error.issues ?? []).some((i) => i.path.startsWith(prefix))) {
      return `no issue at ${prefix}: ${JSON.stringify(rejection.error.issues ?? []).slice(0, 300)}`;
    }
  }
  if (r.extra.length > 0) return `answered ${r.extra.length + 1} times: ${[r.answer, ...r.extra].map((a) => a.kind).join(", ")}`;
  if (r.answer.kind === "accepted" && r.outcome !== "completed") return `accepted, outcome ${r.outcome ?? "none"}`;
  return undefined;
}

/** p-th percentile (0..100) of sorted `values` (nearest rank); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** One row of the report: a category's counts and answer latencies (ms). */
export interface CategoryRow {
  readonly category: string;
  /** The expected answer; two joined by `/` (garbage judged by the JSON parser), or `(mixed)`. */
  readonly expected: string;
  readonly count: number;
  readonly ok: number;
  readonly wrong: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Per category (definition order) and overall: counts, failures and latency percentiles. */
export function summarize(run: CorpusRun, maxLatencyMs: number): { rows: CategoryRow[]; total: CategoryRow } {
  const row = (category: string, items: readonly SubmissionResult[]): CategoryRow => {
    const latencies = items
      .filter((r) => r.answer)
      .map((r) => (r.answer as Answer).at - r.publishedAt)
      .sort((a, b) => a - b);
    const wrong = items.filter((r) => problemOf(r, maxLatencyMs) !== undefined).length;
    const expected = [...new Set(items.map((r) => r.item.expected))];
    return {
      category,
      expected: expected.length === 1 ? (expected[0] as string) : expected.length <= 2 ? expected.join("/") : "(mixed)",
      count: items.length,
      ok: items.length - wrong,
      wrong,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? Number.NaN,
    };
  };
  const names = [...new Set(run.results.map((r) => r.item.category))].sort((a, b) => {
    const ia = CATEGORY_NAMES.indexOf(a);
    const ib = CATEGORY_NAMES.indexOf(b);
    return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || a.localeCompare(b);
  });
  return {
    rows: names.map((n) =>
      row(
        n,
        run.results.filter((r) => r.item.category === n),
      ),
    ),
    total: row("all", run.results),
  };
}

/** The summary as a Markdown table. */
export function formatReport(run: CorpusRun, maxLatencyMs: number): string {
  const { rows, total } = summarize(run, maxLatencyMs);
  const ms = (v: number) => (Number.isNaN(v) ? "—" : v.toFixed(1));
  const head =
    "| category | expected | count | ok | wrong | p50 ms | p99 ms | max ms |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |";
  const line = (r: CategoryRow) =>
    `| ${r.category} | ${r.expected} | ${r.count} | ${r.ok} | ${r.wrong} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} |`;
  return [head, ...rows.map(line), line({ ...total, category: "**all**" })].join("\n");
}

/** The first failing submission of each category, with what went wrong and the start of its payload. */
export function failureExamples(run: CorpusRun, maxLatencyMs: number, perCategory = 1): string[] {
  const seen = new Map<string, number>();
  const out: string[] = [];
  for (const r of run.results) {
    const problem = problemOf(r, maxLatencyMs);
    if (!problem) continue;
    const n = seen.get(r.item.category) ?? 0;
    seen.set(r.item.category, n + 1);
    if (n >= perCategory) continue;
    const text = new TextDecoder().decode(r.item.payload.subarray(0, 400));
    out.push(
      `[${r.item.category}] #${r.item.index} (${r.item.note}), expected ${r.item.expected}: ${problem}\n    payload (${r.item.payload.byteLength} bytes): ${JSON.stringify(text)}`,
    );
  }
  return out;
}
