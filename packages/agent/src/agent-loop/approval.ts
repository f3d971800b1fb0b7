import type { StepWork } from "@baton/contracts";
import type { ToolCallBlock } from "@baton/llm";
import { argsHash, type ToolRegistry } from "@baton/tools";
import type { LoopApprovalDecision } from "./checkpoint.ts";
import type { Conversation } from "./conversation.ts";
import { serializeForModel } from "./serialize.ts";
import type { ArgumentProvenance, PendingApprovalCall } from "./types.ts";

/** How one model turn fares at the approval gate. */
export interface TurnGate {
  /** Gated calls without a decision: while there is one, none of the turn's calls may run. */
  readonly undecided: readonly { readonly call: ToolCallBlock; readonly argsHash: string }[];
  /** Gated calls a person denied, with the (first) denial. */
  readonly denials: ReadonlyMap<ToolCallBlock, LoopApprovalDecision>;
  /** The decisions that match a call of the turn (what a checkpoint keeps). */
  readonly matched: readonly LoopApprovalDecision[];
}

/**
 * Sorts a turn's calls at the gate. A call needs a decision when its tool is in `gated`, its
 * arguments were JSON and pass the tool's schema (a call that will fail validation never runs,
 * so no person is asked about it). Its decision is the one for the same tool and `argsHash` of
 * its exact arguments: a deny wins over an approve; none → undecided.
 */
export function gateTurn(
  calls: readonly ToolCallBlock[],
  registry: ToolRegistry,
  gated: ReadonlySet<string>,
  decisions: readonly LoopApprovalDecision[],
): TurnGate {
  const undecided: { call: ToolCallBlock; argsHash: string }[] = [];
  const denials = new Map<ToolCallBlock, LoopApprovalDecision>();
  const matched = new Set<LoopApprovalDecision>();
  for (const call of calls) {
    if (!gated.has(call.name) || call.parseError !== undefined) continue;
    const tool = registry.get(call.name);
    if (!tool?.parseArgs(call.arguments).ok) continue;
    const hash = argsHash(call.arguments);
    const mine = decisions.filter((d) => d.tool === call.name && d.argsHash === hash);
    for (const d of mine) matched.add(d);
    const denial = mine.find((d) => d.decision === "deny");
    if (denial) denials.set(call, denial);
    else if (!mine.some((d) => d.decision === "approve")) undecided.push({ call, argsHash: hash });
  }
  return { undecided, denials, matched: [...matched] };
}

// ---------- argument provenance ----------

/** A text the agent did not write, normalized for matching, with where it came from. */
interface UntrustedSource {
  readonly label: string;
  readonly text: string;
}

/** Shortest argument string checked: shorter ones ("bob", "10") match everywhere by chance. */
const MIN_VALUE_CHARS = 8;
/** Longer strings are checked by windows of this many characters... */
const WINDOW_CHARS = 16;
/** ...starting every this many characters, so any copied run of 23+ characters is found. */
const WINDOW_STEP = 8;
/** Only the first characters of an argument string are checked (bounded work per call). */
const MAX_SCANNED_CHARS = 4_000;
const MAX_EXCERPT_CHARS = 120;

/**
 * The pending calls of a paused turn, each with its argument provenance: string arguments (at
 * any depth) holding a run of text found verbatim in data the agent did not write — tool outputs
 * of the conversation, upstream results, the summary of earlier turns — and not in the step's
 * own instruction or goal. Matching ignores case, runs of white space and JSON string escapes,
 * and also looks into the percent-encoded and base64 parts of the sources (text an attacker
 * encoded for the model to decode). A hint for the approver, not a filter: text the model rewrote (translated,
 * paraphrased, encoded anew) is not found, and a legitimate quote from a document is flagged too.
 */
export function pendingCalls(undecided: TurnGate["undecided"], conversation: Conversation, work: StepWork): PendingApprovalCall[] {
  const sources = untrustedSources(conversation, work);
  const trusted = normalize(`${work.instruction}\n${work.goal}`);
  return undecided.map(({ call, argsHash: hash }) => {
    const provenance = argumentProvenance(call.arguments, sources, trusted);
    return {
      callId: call.id,
      tool: call.name,
      args: call.arguments,
      argsHash: hash,
      ...(provenance.length > 0 ? { provenance } : {}),
    };
  });
}

function untrustedSources(conversation: Conversation, work: StepWork): UntrustedSource[] {
  const source = (label: string, raw: string): UntrustedSource => ({ label, text: [raw, ...decodedForms(raw)].map(normalize).join("\n") });
  const sources = Object.entries(work.inputs).map(([stepId, value]) => source(`upstream_result ${stepId}`, serializeForModel(value)));
  if (conversation.summary) sources.push(source("conversation_summary", conversation.summary));
  for (const turn of conversation.turns) {
    const names = new Map(turn.call.content.flatMap((b) => (b.type === "tool_call" ? [[b.id, b.name] as const] : [])));
    for (const block of turn.results.content) {
      if (block.type !== "tool_result") continue;
      sources.push(source(`tool_output ${names.get(block.toolCallId) ?? "unknown"} ${block.toolCallId}`, block.content));
    }
  }
  return sources;
}

/** Runs of base64 long enough to hide an instruction. */
const BASE64_RUN = /[A-Za-z0-9+/]{16,}={0,2}/g;

/**
 * What the encoded parts of `raw` say, so that text a model decoded and copied is found too:
 * percent-encoding decoded, and every base64 run that decodes to printable UTF-8 text.
 */
function decodedForms(raw: string): string[] {
  const forms: string[] = [];
  if (/%[0-9a-f]{2}/i.test(raw)) {
    forms.push(
      raw.replaceAll(/(?:%[0-9a-f]{2})+/gi, (run) => {
        try {
          return decodeURIComponent(run);
        } catch {
          return run;
        }
      }),
    );
  }
  for (const [run] of raw.matchAll(BASE64_RUN)) {
    const decoded = Buffer.from(run, "base64").toString("utf8");
    if (isPrintable(decoded)) forms.push(decoded);
  }
  return forms;
}

/** Mostly printable text (not the noise that decoding an ordinary word or a hex id yields). */
function isPrintable(text: string): boolean {
  if (text.length < 8 || text.includes("\uFFFD")) return false;
  const printable = text.match(/[\x20-\x7E\n\r\t]/g)?.length ?? 0;
  return printable / text.length >= 0.95;
}

function argumentProvenance(args: Record<string, unknown>, sources: readonly UntrustedSource[], trusted: string): ArgumentProvenance[] {
  const found: ArgumentProvenance[] = [];
  for (const { path, value } of stringLeaves(args, "args")) {
    const text = normalize(value).slice(0, MAX_SCANNED_CHARS);
    if (text.length < MIN_VALUE_CHARS) continue;
    // The source holding the longest copied run (the first one on a tie).
    let best: { source: string; excerpt: string } | undefined;
    for (const source of sources) {
      const excerpt = copiedRun(text, source.text, trusted)?.trim();
      if (excerpt && excerpt.length > (best?.excerpt.length ?? 0)) best = { source: source.label, excerpt };
    }
    if (best) found.push({ path, source: best.source, excerpt: best.excerpt.slice(0, MAX_EXCERPT_CHARS) });
  }
  return found;
}

/** The longest run of `text` around the first window found in `source` but not in `trusted`, or undefined. */
function copiedRun(text: string, source: string, trusted: string): string | undefined {
  if (text.length <= WINDOW_CHARS) return source.includes(text) && !trusted.includes(text) ? text : undefined;
  for (let start = 0; start + WINDOW_CHARS <= text.length; start += WINDOW_STEP) {
    const window = text.slice(start, start + WINDOW_CHARS);
    if (!source.includes(window) || trusted.includes(window)) continue;
    // Widen the run as far as the source still holds it (binary searches: a longer run found
    // means every shorter one is found too).
    const to = widest(start + WINDOW_CHARS, text.length, (end) => source.includes(text.slice(start, end)));
    const from = start - widest(0, start, (back) => source.includes(text.slice(start - back, to)));
    return text.slice(from, to);
  }
  // The tail the windows did not reach.
  const tail = text.slice(-WINDOW_CHARS);
  return source.includes(tail) && !trusted.includes(tail) ? tail : undefined;
}

/** The largest `n` in [`low`, `high`] for which `holds(n)`, given that `holds(low)` and `holds` is monotone (true, then false). */
function widest(low: number, high: number, holds: (n: number) => boolean): number {
  let lo = low;
  let hi = high;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (holds(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Every string inside `value` with its dotted path. */
function stringLeaves(value: unknown, path: string): { path: string; value: string }[] {
  if (typeof value === "string") return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringLeaves(v, `${path}.${i}`));
  if (value !== null && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => stringLeaves(v, `${path}.${k}`));
  return [];
}

/** Lower case, JSON string escapes undone, runs of white space as one space. */
function normalize(text: string): string {
  return text
    .replaceAll(/\\(["\\/])/g, "$1")
    .replaceAll(/\\[nrt]/g, " ")
    .toLowerCase()
    .replaceAll(/\s+/g, " ");
}
