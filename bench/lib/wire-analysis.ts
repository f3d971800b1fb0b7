import type { WireOp, WireRecorder } from "./wire-recorder.ts";

/** A client → server operation and, for a request, when its reply passed the proxy. */
export interface WireRequest {
  readonly conn: number;
  readonly t: number;
  readonly label: string;
  readonly op: WireOp;
  /** Reply time; undefined for fire-and-forget publishes (acks) and pull requests. */
  readonly replyAt?: number;
  readonly reply?: WireOp;
}

/** What a subject is, in words (KV operations, JetStream API calls, Baton and raw subjects). */
export function labelOf(op: Pick<WireOp, "subject" | "headers" | "payload">): string {
  const s = op.subject;
  if (s.startsWith("$JS.API.DIRECT.GET.")) return `KV get ${(s.split(".")[4] ?? "").replace(/^KV_/, "")}`;
  if (s.startsWith("$KV.")) {
    const bucket = s.split(".")[1] ?? "";
    const expected = /Nats-Expected-Last-Subject-Sequence:\s*(\d+)/i.exec(op.headers)?.[1];
    if (expected === "0") return `KV create ${bucket}`;
    return expected === undefined ? `KV put ${bucket}` : `KV update (CAS) ${bucket}`;
  }
  if (s.startsWith("$JS.API.CONSUMER.INFO.")) return "consumer info (consumers.get)";
  if (s.startsWith("$JS.API.CONSUMER.MSG.NEXT.")) return "pull request";
  if (s.startsWith("$JS.ACK.")) {
    if (op.payload.startsWith("+WPI")) return "working heartbeat";
    if (op.payload.startsWith("-NAK")) return "nak";
    if (op.payload.startsWith("+TERM")) return "term";
    return "ack";
  }
  if (s.startsWith("tasks.events.")) return `event ${/"type":"([^"]+)"/.exec(op.payload)?.[1] ?? "?"}`;
  if (s.startsWith("work.") || s.startsWith("raw.work.")) return "work publish";
  if (s.startsWith("results.") || s.startsWith("raw.results.")) return "result publish";
  if (s.startsWith("synthesis.")) return "synthesis publish";
  if (s.startsWith("tasks.completed.") || s.startsWith("tasks.failed.") || s.startsWith("raw.done.")) return "outcome publish";
  if (s === "tasks.submit" || s === "raw.submit") return "submit publish";
  if (s.startsWith("$JS.API.")) return `JS API ${s.split(".").slice(2, 4).join(".")}`;
  return s;
}

/** The role of a connection: its CONNECT name without the replica number ("supervisor-3" → "supervisor"). */
export function roleOf(recorder: Pick<WireRecorder, "names">, conn: number): string {
  return (recorder.names.get(conn) ?? `conn${conn}`).replace(/-\d+$/, "");
}

/** Every client → server operation, with request/reply matching on the reply subject. */
export function requestsOf(ops: readonly WireOp[]): WireRequest[] {
  const out: WireRequest[] = [];
  const pending = new Map<string, number>(); // `${conn} ${reply}` → index in out
  for (const op of ops) {
    if (op.dir === "out") {
      out.push({ conn: op.conn, t: op.t, label: labelOf(op), op });
      if (op.reply && !op.subject.startsWith("$JS.API.CONSUMER.MSG.NEXT.")) pending.set(`${op.conn} ${op.reply}`, out.length - 1);
    } else {
      const key = `${op.conn} ${op.subject}`;
      const index = pending.get(key);
      if (index !== undefined) {
        pending.delete(key);
        const req = out[index];
        if (req) out[index] = { ...req, replyAt: op.t, reply: op };
      }
    }
  }
  return out;
}

/** One hop of a task's critical path: a publish on `subject` and its delivery to the next process. */
export interface Hop {
  readonly subject: string;
  /** For subjects shared by every task (tasks.submit): a string the payload must contain. */
  readonly payloadContains?: string;
}

/** A request inside a segment: its label, round trip (undefined: no reply expected) and the messages. */
export interface SegmentRequest {
  readonly label: string;
  readonly ms: number | undefined;
  readonly op: WireOp;
  readonly reply?: WireOp;
}

const asSegmentRequest = (r: WireRequest): SegmentRequest => ({
  label: r.label,
  ms: r.replyAt === undefined ? undefined : r.replyAt - r.t,
  op: r.op,
  ...(r.reply ? { reply: r.reply } : {}),
});

/** A span of time on a task's critical path. */
export interface Segment {
  /** `process`: a process works between receiving a message and publishing the next hop; `delivery`: publish → delivery. */
  readonly kind: "process" | "delivery";
  /** The process's role, or "publish → <role>" for a delivery. */
  readonly role: string;
  readonly hop: number;
  readonly ms: number;
  /** Requests the process made inside the segment, in order, with their round trips. */
  readonly requests: SegmentRequest[];
  /** For a delivery: the delivered message. */
  readonly message?: WireOp;
  /** Time in the segment not covered by a round trip: the process's own CPU work (and waiting for it). */
  readonly cpuMs: number;
}

/** A task's critical path, hop by hop, plus the operations of each process right after it handed over (off the path). */
export interface CriticalPath {
  readonly segments: Segment[];
  readonly totalMs: number;
  /** Per hop: what the sending process did after publishing it (acks, events, next pull), until its next delivery. */
  readonly after: { hop: number; role: string; requests: SegmentRequest[] }[];
}

/**
 * Follows one task through the recorded operations: for each hop, the publish (on the process
 * that received the previous hop) and its delivery; returns undefined when a hop is missing.
 */
export function criticalPath(recorder: WireRecorder, requests: readonly WireRequest[], hops: readonly Hop[]): CriticalPath | undefined {
  const segments: Segment[] = [];
  const after: CriticalPath["after"] = [];
  let prevDelivery: WireOp | undefined;
  let firstPublish: WireOp | undefined;
  for (let i = 0; i < hops.length; i++) {
    const hop = hops[i] as Hop;
    const from = prevDelivery?.t ?? Number.NEGATIVE_INFINITY;
    const publish = recorder.ops.find(
      (o) =>
        o.dir === "out" &&
        o.t >= from &&
        o.subject === hop.subject &&
        (prevDelivery === undefined || o.conn === prevDelivery.conn) &&
        (hop.payloadContains === undefined || o.payload.includes(hop.payloadContains)),
    );
    if (!publish) return undefined;
    firstPublish ??= publish;
    const delivery = recorder.ops.find(
      (o) =>
        o.dir === "in" &&
        o.t >= publish.t &&
        o.subject === hop.subject &&
        o.conn !== publish.conn &&
        (hop.payloadContains === undefined || o.payload.includes(hop.payloadContains)),
    );
    if (!delivery) return undefined;
    if (prevDelivery) {
      const start = prevDelivery.t;
      const inside = requests.filter((r) => r.conn === publish.conn && r.t >= start && r.t < publish.t);
      const ms = publish.t - start;
      segments.push({
        kind: "process",
        role: roleOf(recorder, publish.conn),
        hop: i,
        ms,
        requests: inside.map(asSegmentRequest),
        cpuMs: ms - covered(inside, start, publish.t),
      });
    }
    segments.push({
      kind: "delivery",
      role: `publish → ${roleOf(recorder, delivery.conn)}`,
      hop: i,
      ms: delivery.t - publish.t,
      requests: [],
      cpuMs: 0,
      message: delivery,
    });
    const nextIn = recorder.ops.find((o) => o.dir === "in" && o.conn === publish.conn && o.t > publish.t && o.reply.startsWith("$JS.ACK."));
    const until = nextIn?.t ?? publish.t + 50;
    after.push({
      hop: i,
      role: roleOf(recorder, publish.conn),
      requests: requests.filter((r) => r.conn === publish.conn && r.t >= publish.t && r.t < until).map(asSegmentRequest),
    });
    prevDelivery = delivery;
  }
  if (!firstPublish || !prevDelivery) return undefined;
  return { segments, totalMs: prevDelivery.t - firstPublish.t, after };
}

/** Length of the union of the requests' [send, reply] intervals inside [from, to]. */
function covered(requests: readonly WireRequest[], from: number, to: number): number {
  const spans = requests
    .filter((r) => r.replyAt !== undefined)
    .map((r) => [Math.max(from, r.t), Math.min(to, r.replyAt ?? r.t)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const [a, b] of spans) {
    if (b <= end) continue;
    total += b - Math.max(a, end);
    end = b;
  }
  return total;
}

/** The hops of a Baton task with explicit plan steps run in sequence (`stepIds`), through synthesis to the outcome. */
export function batonHops(taskId: string, agent: string, stepIds: readonly string[]): Hop[] {
  return [
    { subject: "tasks.submit", payloadContains: `"${taskId}"` },
    ...stepIds.flatMap((s) => [{ subject: `work.${agent}.${taskId}.${s}` }, { subject: `results.${agent}.${taskId}.${s}` }]),
    { subject: `synthesis.${taskId}` },
    { subject: `tasks.completed.${taskId}` },
  ];
}

/** The hops of a raw baseline task of `steps` sequential steps. */
export function rawHops(taskId: string, steps: number): Hop[] {
  return [
    { subject: "raw.submit", payloadContains: `"${taskId}"` },
    ...Array.from({ length: steps }, (_, i) => [{ subject: `raw.work.${taskId}.${i}` }, { subject: `raw.results.${taskId}.${i}` }]).flat(),
    { subject: `raw.done.${taskId}` },
  ];
}
