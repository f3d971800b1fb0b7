import type { AgentName } from "./agents.ts";
import {
  APPROVALS_STREAM,
  type ConsumerSpec,
  CONSUMERS,
  DLQ_STREAM,
  EVENTS_STREAM,
  KV_BUCKETS,
  OUTCOMES_STREAM,
  RESULTS_STREAM,
  STREAMS,
  SUBMISSIONS_STREAM,
  SYNTHESIS_CONSUMER,
  SYNTHESIS_STREAM,
  WORK_STREAM,
  workConsumer,
} from "./streams.ts";
import { AUDIT_STREAM } from "./audit.ts";
import { subjects } from "./subjects.ts";

/**
 * Who connects to the bus. Each role gets a publish and a subscribe allow-list derived from the
 * contracts (subjects, streams, consumers, buckets) by {@link rolePermissions}; nothing else is
 * allowed. No role but the operator may delete or purge a stream, a consumer or a bucket.
 * - `supervisor`: accepts tasks, keeps their state, dispatches work, provisions the streams;
 * - `synthesizer`: writes answers and memory, publishes completions;
 * - `agent`: one agent type's workers — their own work, results, events and registration only;
 * - `client`: submits and cancels tasks, follows tasks, reads outcomes and the agent cards;
 * - `operator`: everything (dead letters, approvals, audit, removing agents).
 */
export type Role =
  | { readonly kind: "supervisor" }
  | { readonly kind: "synthesizer" }
  | { readonly kind: "agent"; readonly agent: AgentName }
  | { readonly kind: "client"; readonly name?: string }
  | { readonly kind: "operator"; readonly name?: string };

/** A role's allow-lists (NATS subjects, wildcards allowed). */
export interface RolePermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/**
 * The user name of a role's credentials: `supervisor`, `synthesizer`, `agent-<agent>`,
 * `client[-<name>]`, `operator[-<name>]`. It is also the last token of the role's inbox prefix.
 */
export function roleUser(role: Role): string {
  switch (role.kind) {
    case "agent":
      return `agent-${role.agent}`;
    case "client":
    case "operator":
      return role.name ? `${role.kind}-${role.name}` : role.kind;
    default:
      return role.kind;
  }
}

/**
 * The inbox prefix of a user (`_INBOX.<user>`): replies and consumer deliveries to the user go to
 * subjects under it, and only that user may subscribe there, so nobody reads another's replies.
 * Clients pass it as their connection's inbox prefix (nats.js `inboxPrefix`, nats.go
 * `CustomInboxPrefix`).
 */
export function inboxPrefixOf(user: string): string {
  return `_INBOX.${user}`;
}

const API = "$JS.API";
const KV_STREAM = (bucket: string) => `KV_${bucket}`;

/** Reading a stream's info (also how a non-provisioning service waits for streams to exist). */
const streamInfo = (stream: string) => `${API}.STREAM.INFO.${stream}`;

/** Everything a member of a durable pull consumer needs: create or bind, info, pull, ack. */
function consumerMember(spec: Pick<ConsumerSpec, "stream" | "durable">): string[] {
  const { stream, durable } = spec;
  return [
    `${API}.CONSUMER.CREATE.${stream}.${durable}`,
    `${API}.CONSUMER.CREATE.${stream}.${durable}.>`,
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
    `${API}.CONSUMER.INFO.${stream}.${durable}`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.${durable}`,
    `$JS.ACK.${stream}.${durable}.>`,
  ];
}

/** Reading single messages of a stream (by sequence or last by subject). */
const streamRead = (stream: string) => [
  streamInfo(stream),
  `${API}.STREAM.MSG.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}`,
  `${API}.DIRECT.GET.${stream}.>`,
];

/** Reading and watching a KV bucket: get, keys and watch (ordered consumers with random names and flow control). */
function kvRead(bucket: string): string[] {
  const stream = KV_STREAM(bucket);
  return [
    ...streamRead(stream),
    `${API}.CONSUMER.CREATE.${stream}.*`,
    `${API}.CONSUMER.CREATE.${stream}.*.>`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.DELETE.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

/** Writing (put, create, update, delete) keys matching `key` of a KV bucket. */
const kvWrite = (bucket: string, key = ">") => `$KV.${bucket}.${key}`;

/** Following a stream with ephemeral or ordered consumers (event history, then live). */
function streamFollow(stream: string): string[] {
  return [
    ...streamRead(stream),
    `${API}.CONSUMER.CREATE.${stream}`,
    `${API}.CONSUMER.CREATE.${stream}.*`,
    `${API}.CONSUMER.CREATE.${stream}.*.>`,
    `${API}.CONSUMER.INFO.${stream}.*`,
    `${API}.CONSUMER.DELETE.${stream}.*`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.FC.${stream}.>`,
  ];
}

const every = <T>(values: readonly T[], f: (v: T) => string[]): string[] => values.flatMap(f);
const BUCKETS = KV_BUCKETS;

/** Stream info of every stream and bucket: what a service needs to wait for provisioning. */
const allStreamInfo = (): string[] => [
  ...STREAMS.map((s) => streamInfo(s.name)),
  ...Object.values(BUCKETS).map((b) => streamInfo(KV_STREAM(b.name))),
];

/** Audit entries: each role publishes on a subject naming it (see the audit ledger). */
const auditIn = (role: Role): string => {
  switch (role.kind) {
    case "agent":
      return `audit.in.agent.${role.agent}`;
    default:
      return `audit.in.${role.kind}`;
  }
};

/**
 * The allow-lists of a role, derived from the contracts. Every role may publish `$JS.API.INFO`
 * and subscribe to its own inbox ({@link inboxPrefixOf}). See {@link Role} for what each role is
 * for; no list allows `$JS.API.STREAM.DELETE`, `STREAM.PURGE` or a durable consumer's `DELETE`
 * except the operator's `>`.
 */
export function rolePermissions(role: Role): RolePermissions {
  const inbox = `${inboxPrefixOf(roleUser(role))}.>`;
  // Every role may read the info of Baton's streams and buckets (configuration and counts, no
  // messages): a service that does not provision waits for them to exist this way.
  const base = [
    `${API}.INFO`,
    auditIn(role),
    ...STREAMS.map((s) => streamInfo(s.name)),
    ...Object.values(KV_BUCKETS).map((b) => streamInfo(KV_STREAM(b.name))),
  ];
  switch (role.kind) {
    case "operator":
      return { publish: [">"], subscribe: [">"] };
    case "supervisor":
      return {
        publish: [
          ...base,
          // It provisions every stream, bucket and control-plane consumer.
          ...every(STREAMS, (s) => [`${API}.STREAM.CREATE.${s.name}`, `${API}.STREAM.UPDATE.${s.name}`, streamInfo(s.name)]),
          ...every(Object.values(BUCKETS), (b) => [
            `${API}.STREAM.CREATE.${KV_STREAM(b.name)}`,
            `${API}.STREAM.UPDATE.${KV_STREAM(b.name)}`,
          ]),
          ...every(CONSUMERS, consumerMember),
          // The dispatch watchdog and the dead-letter handler read and move single messages.
          ...every([WORK_STREAM, RESULTS_STREAM, SYNTHESIS_STREAM, SUBMISSIONS_STREAM, OUTCOMES_STREAM, DLQ_STREAM], (s) =>
            streamRead(s.name),
          ),
          ...every([WORK_STREAM, RESULTS_STREAM, SYNTHESIS_STREAM, SUBMISSIONS_STREAM], (s) => [`${API}.STREAM.MSG.DELETE.${s.name}`]),
          ...every(Object.values(BUCKETS), (b) => kvRead(b.name)),
          kvWrite(BUCKETS.tasks.name),
          kvWrite(BUCKETS.budgets.name),
          kvWrite(BUCKETS.approvals.name),
          subjects.approvalRequestsAll,
          ...streamRead(APPROVALS_STREAM.name),
          // The audit chainer appends to the ledger and reads its head.
          ...streamFollow(AUDIT_STREAM.name),
          "audit.log.>",
          subjects.workAll,
          subjects.synthesisAll,
          subjects.rejected,
          subjects.failedAll,
          "tasks.events.*.task",
          // A dead-lettered step is reported as that step's failed result.
          subjects.resultsAll,
          subjects.deadLetterAll,
          subjects.abortAll,
        ],
        subscribe: [inbox],
      };
    case "synthesizer":
      return {
        publish: [
          ...base,
          ...allStreamInfo(),
          ...consumerMember(SYNTHESIS_CONSUMER),
          ...streamRead(OUTCOMES_STREAM.name),
          ...every([BUCKETS.tasks, BUCKETS.budgets, BUCKETS.memory, BUCKETS.agents, BUCKETS.agentReplicas], (b) => kvRead(b.name)),
          kvWrite(BUCKETS.tasks.name),
          kvWrite(BUCKETS.budgets.name),
          kvWrite(BUCKETS.memory.name),
          subjects.completedAll,
          subjects.failedAll,
          "tasks.events.*.task",
        ],
        subscribe: [inbox],
      };
    case "agent": {
      const { agent } = role;
      return {
        publish: [
          ...base,
          ...allStreamInfo(),
          ...consumerMember(workConsumer(agent)),
          ...every([BUCKETS.tasks, BUCKETS.budgets, BUCKETS.effects, BUCKETS.agents, BUCKETS.agentReplicas], (b) => kvRead(b.name)),
          kvWrite(BUCKETS.agents.name, agent),
          kvWrite(BUCKETS.agentReplicas.name, `${agent}.>`),
          kvWrite(BUCKETS.effects.name),
          kvWrite(BUCKETS.budgets.name),
          // Its own paused conversations only (LLM loops waiting for approval).
          kvWrite(BUCKETS.checkpoints.name, `${agent}.>`),
          `${API}.DIRECT.GET.KV_${BUCKETS.checkpoints.name}.$KV.${BUCKETS.checkpoints.name}.${agent}.>`,
          subjects.resultsOf(agent),
          `tasks.events.*.agent.${agent}`,
        ],
        subscribe: [inbox, subjects.abortAll],
      };
    }
    case "client":
      return {
        publish: [
          ...base,
          subjects.submit,
          subjects.cancel,
          streamInfo(SUBMISSIONS_STREAM.name),
          ...streamFollow(EVENTS_STREAM.name),
          ...streamRead(OUTCOMES_STREAM.name),
          ...every([BUCKETS.tasks, BUCKETS.agents, BUCKETS.agentReplicas, BUCKETS.approvals], (b) => kvRead(b.name)),
          ...streamFollow(APPROVALS_STREAM.name),
        ],
        // Clients may watch approval requests (an approver's page, a chat bot); deciding is the operator's.
        subscribe: [inbox, subjects.eventsAll, subjects.completedAll, subjects.failedAll, subjects.rejected, subjects.approvalRequestsAll],
      };
  }
}
