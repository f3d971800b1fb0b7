import { randomBytes } from "node:crypto";

/**
 * Spotlighting (a prompt-injection defence): text the agent did not write — tool outputs,
 * upstream step results, summaries of them — reaches the model fenced as data:
 *
 * ```text
 * <tool_output nonce="9f2c4e1a7b3d5c80" tool="lookup" call_id="call_1" status="ok" untrusted="true">
 * …data, verbatim…
 * </tool_output nonce="9f2c4e1a7b3d5c80">
 * ```
 *
 * The nonce is 16 random hex digits, fresh for every fence and never present in the data, so
 * a closing tag inside the data (`</tool_output>`, or one with a guessed nonce) cannot end the
 * fence early. Data is never edited: instruction-like lines stay, and the header gets
 * `untrusted="true"` so the model (told so by the system prompt) treats them with suspicion.
 */

/** The fence tags in use. */
export type FenceTag = "tool_output" | "upstream_result" | "conversation_summary" | "transcript" | "planned_tool_calls";

/** Every fence tag, for detecting fence-like markup inside data. */
export const FENCE_TAGS: readonly FenceTag[] = [
  "tool_output",
  "upstream_result",
  "conversation_summary",
  "transcript",
  "planned_tool_calls",
];

/** Options of {@link fenceUntrusted}. */
export interface FenceOptions {
  readonly tag: FenceTag;
  /** Extra header attributes (`tool`, `call_id`, `step`, `status`…), escaped; `nonce` and `untrusted` are set here. */
  readonly attributes?: Readonly<Record<string, string>>;
  /** Nonce source; default 8 random bytes as hex. Replaced for tests only. */
  readonly newNonce?: () => string;
}

/** Kinds of instruction-like text {@link detectInstructionLike} looks for, with their patterns. */
const INSTRUCTION_PATTERNS: readonly { readonly kind: string; readonly pattern: RegExp }[] = [
  {
    kind: "override",
    pattern:
      /\b(ignore|disregard|forget|override)\b[^\n]{0,40}?\b(previous|prior|above|earlier|all|any|your|system|the)\b[^\n]{0,30}?\b(instructions?|prompts?|rules|messages?|context|directions|guidelines)\b/i,
  },
  { kind: "role-change", pattern: /\byou are now\b|\bfrom now on,? you\b|\bnew (system )?instructions?\s*:/i },
  { kind: "role-prefix", pattern: /^[\s#>*_-]*\(?\b(system|assistant|developer)\b\)?\s*:/im },
  { kind: "chat-markup", pattern: /<\/?\s*(system|instructions?)\s*>|<\|im_(start|end)\|>|\[\/?(INST|SYS)\]/i },
  { kind: "fence-markup", pattern: new RegExp(`</?\\s*(${FENCE_TAGS.join("|")})\\b`, "i") },
];

/**
 * Which kinds of instruction-like text `data` contains (e.g. "ignore previous instructions",
 * "you are now", a line starting `system:`, chat-template markup, our own fence tags), in the
 * order of {@link INSTRUCTION_PATTERNS}; empty when none. A heuristic flag, not a filter.
 */
export function detectInstructionLike(data: string): string[] {
  return INSTRUCTION_PATTERNS.filter(({ pattern }) => pattern.test(data)).map(({ kind }) => kind);
}

/** A fresh nonce: 8 random bytes as 16 hex digits. */
export function randomNonce(): string {
  return randomBytes(8).toString("hex");
}

/**
 * Wraps `data` in a nonce fence (see the module comment). The header carries
 * `nonce`, then `attributes`, then `untrusted="true"` when {@link detectInstructionLike} finds
 * anything. `data` goes in unchanged, on its own lines.
 * @throws Error when the nonce source keeps returning nonces found in the data (10 tries).
 */
export function fenceUntrusted(data: string, options: FenceOptions): string {
  const newNonce = options.newNonce ?? randomNonce;
  let nonce = newNonce();
  for (let tries = 1; data.includes(nonce); tries++) {
    if (tries >= 10) throw new Error("fenceUntrusted: could not draw a nonce absent from the data");
    nonce = newNonce();
  }
  const attributes = Object.entries(options.attributes ?? {})
    .map(([name, value]) => ` ${name}="${escapeAttribute(value)}"`)
    .join("");
  const flag = detectInstructionLike(data).length > 0 ? ` untrusted="true"` : "";
  return `<${options.tag} nonce="${nonce}"${attributes}${flag}>\n${data}\n</${options.tag} nonce="${nonce}">`;
}

/** Escapes a header attribute value: `&`, `"`, `<`, `>` as entities; line breaks as spaces. */
function escapeAttribute(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll('"', "&quot;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll(/[\r\n]+/g, " ");
}
