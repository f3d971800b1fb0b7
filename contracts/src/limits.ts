import { z } from "zod";

/**
 * Limits every submission is held to, stated once here, enforced by the contract (and checked at
 * the boundary by tests), listed in the README's "Submit" section.
 */

/** Deepest nesting of any JSON value in a submission (objects and arrays; the submission itself is depth 1). */
export const MAX_JSON_DEPTH = 64;

/** Largest `args` of one tool call, as JSON: 256 KiB (a step's tool output may be as large: MAX_TOOL_OUTPUT_BYTES). */
export const MAX_TOOL_ARGS_BYTES = 262_144;

/** Most `metadata` entries of a task; keys 1–64 characters of `A-Z a-z 0-9 _ . -`, values at most 256 characters. */
export const MAX_METADATA_ENTRIES = 32;

/**
 * Names that cannot be ids, agent names, tool names or metadata keys: the properties every
 * JavaScript object inherits (`__proto__`, `constructor`, `toString`, …) and `prototype`. A key
 * like these, used on a plain object, reads or replaces what the object inherits instead of an
 * entry of its own.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__", "prototype"]);

/** Whether `name` is one of {@link RESERVED_NAMES}. */
export function isReservedName(name: string): boolean {
  return RESERVED_NAMES.has(name);
}

/** The zod check that refuses {@link RESERVED_NAMES}. */
export const notReserved = (value: string): boolean => !isReservedName(value);
export const RESERVED_MESSAGE = "is a reserved name (a property every JavaScript object has): choose another";

/**
 * Whether `text` is clean: well-formed Unicode (no unpaired surrogate) and no control character
 * other than tab, line feed and carriage return (C0 controls, DEL and C1 controls are refused).
 */
export function isCleanText(text: string): boolean {
  if (!text.isWellFormed()) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

/** Free text of a submission (goal, instruction, reason, metadata values): {@link isCleanText}. */
export function cleanText(): z.ZodString {
  return z.string().refine(isCleanText, {
    message: "must not contain control characters (other than tab, line feed, carriage return) or unpaired surrogates",
  });
}

/** One place in a JSON value: object keys and array indexes from the root. */
export type JsonPath = (string | number)[];

/** Most values (objects, arrays, strings, numbers, …) a submission may hold: 200,000. */
export const MAX_JSON_VALUES = 200_000;

/** A value met by {@link walkJson}: the value and its depth (the root is 1); {@link jsonPathOf} gives its path. */
export interface JsonNode {
  readonly value: unknown;
  readonly depth: number;
}

interface Frame extends JsonNode {
  readonly parent: Frame | undefined;
  readonly key: string | number;
}

/** The path from the root to a node {@link walkJson} visited (built on demand: walking allocates no path per value). */
export function jsonPathOf(node: JsonNode): JsonPath {
  const path: JsonPath = [];
  for (let f: Frame | undefined = node as Frame; f?.parent; f = f.parent) path.push(f.key);
  return path.reverse();
}

/**
 * Visits every value inside `value` (parents before children, in document order) without
 * recursion — safe at any depth `JSON.parse` accepts, which is far more than `JSON.stringify`,
 * `structuredClone` or recursive code can take — and without allocating a path per value.
 * `visit` returns `"skip"` to leave a value's children out, `"stop"` to end the walk.
 */
export function walkJson(value: unknown, visit: (node: JsonNode) => "skip" | "stop" | undefined): void {
  const stack: Frame[] = [{ value, parent: undefined, key: "", depth: 1 }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const verdict = visit(frame);
    if (verdict === "stop") return;
    const v = frame.value;
    if (verdict === "skip" || v === null || typeof v !== "object") continue;
    const depth = frame.depth + 1;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], parent: frame, key: i, depth });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push({ value: (v as Record<string, unknown>)[key], parent: frame, key, depth });
      }
    }
  }
}

/** What is wrong with a JSON value's shape: nested too deep, too many values, or a `__proto__` key. */
export interface JsonShapeProblem {
  readonly path: JsonPath;
  readonly message: string;
}

/**
 * The first problem of `value`'s shape, or undefined: a value nested deeper than `maxDepth`
 * (objects and arrays; the root is depth 1), more than `maxValues` values in all (reported at the
 * object or array whose entries crossed the limit), or an own
 * `__proto__` key (as `JSON.parse` creates one: copied onto a plain object by assignment it
 * replaces the object's prototype, and schemas drop it silently). One pass, no recursion.
 */
export function jsonShapeProblem(value: unknown, maxDepth = MAX_JSON_DEPTH, maxValues = MAX_JSON_VALUES): JsonShapeProblem | undefined {
  // Containers only go on the stack; primitives are counted where they sit.
  const stack: Frame[] = [{ value, parent: undefined, key: "", depth: 1 }];
  let count = 1;
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    const v = frame.value;
    if (v === null || typeof v !== "object") continue;
    if (frame.depth > maxDepth) return { path: jsonPathOf(frame), message: `nested more than ${maxDepth} levels deep` };
    const depth = frame.depth + 1;
    if (Array.isArray(v)) {
      count += v.length;
      if (count > maxValues) return { path: jsonPathOf(frame), message: `more than ${maxValues} values in all, reached here` };
      for (let i = v.length - 1; i >= 0; i--) {
        const item: unknown = v[i];
        if (item !== null && typeof item === "object") stack.push({ value: item, parent: frame, key: i, depth });
      }
      continue;
    }
    if (Object.hasOwn(v, "__proto__")) return { path: [...jsonPathOf(frame), "__proto__"], message: '"__proto__" is a reserved name' };
    const keys = Object.keys(v);
    count += keys.length;
    if (count > maxValues) return { path: jsonPathOf(frame), message: `more than ${maxValues} values in all, reached here` };
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const item = (v as Record<string, unknown>)[key];
      if (item !== null && typeof item === "object") stack.push({ value: item, parent: frame, key, depth });
    }
  }
  return undefined;
}

/** `path` as a dotted field path (`plan.steps.0.toolCalls.1.args.a.b`). */
export function dottedPath(path: JsonPath): string {
  return path.join(".");
}
