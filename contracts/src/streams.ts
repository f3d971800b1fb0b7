import { AGENT_REPLICA_TTL_MS, type AgentName } from "./agents.ts";
import { AUDIT_CHAINER_CONSUMER, AUDIT_IN_STREAM, AUDIT_STREAM } from "./audit.ts";
import { subjects } from "./subjects.ts";

/** A JetStream stream, as data. Durations in ms; the provisioning code converts to nanoseconds. */
export interface StreamSpec {
  readonly name: string;
  readonly subjects: readonly string[];
  /** `workqueue`: a message is removed once acked; `limits`: kept until max age / per-subject limit. */
  readonly retention: "workqueue" | "limits";
  readonly storage: "file" | "memory";
  /** Window in ms within which a repeated `Nats-Msg-Id` is dropped as a duplicate. */
  readonly duplicateWindowMs: number;
  /** Maximum age of a message in ms (0 = unlimited). */
  readonly maxAgeMs: number;
  /** Messages kept per subject (-1 = unlimited). */
  readonly maxMsgsPerSubject: number;
  /** Refuse deleting single messages through the API (`deny_delete`; cannot be turned off once set). */
  readonly denyDelete?: boolean;
  /** Refuse purging the stream through the API (`deny_purge`; cannot be turned off once set). */
  readonly denyPurge?: boolean;
  /**
   * Provisioning creates the stream with `maxAgeMs` but leaves an existing stream's max age as it
   * is: the stream's owner sets it (BATON_AUDIT: the supervisor's `AUDIT_MAX_AGE_DAYS`).
   */
  readonly keepExistingMaxAge?: boolean;
}

/** A durable pull consumer, as data. Durations in ms. */
export interface ConsumerSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string;
  /** How long a delivered message may stay unacked before redelivery, in ms. */
  readonly ackWaitMs: number;
  /** Deliveries before the server gives up on a message (then a MAX_DELIVERIES advisory). */
  readonly maxDeliver: number;
  /** Unacked messages in flight across all replicas. */
  readonly maxAckPending: number;
}

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** A file-backed work-queue stream: a message is removed once acked. */
function workQueue(name: string, streamSubjects: readonly string[]): StreamSpec {
  return {
    name,
    subjects: streamSubjects,
    retention: "workqueue",
    storage: "file",
    duplicateWindowMs: 2 * MINUTE,
    maxAgeMs: 0,
    maxMsgsPerSubject: -1,
  };
}

/** Task submissions from clients (any NATS client publishing on `tasks.submit` lands here). */
export const SUBMISSIONS_STREAM: StreamSpec = workQueue("BATON_SUBMISSIONS", [subjects.submit, subjects.cancel]);

/** Step work for every agent type; one subject prefix and one consumer per agent. */
export const WORK_STREAM: StreamSpec = workQueue("BATON_WORK", [subjects.workAll]);

/** Step results, consumed by the supervisor. */
export const RESULTS_STREAM: StreamSpec = workQueue("BATON_RESULTS", [subjects.resultsAll]);

/** Synthesis requests, consumed by the synthesizer. */
export const SYNTHESIS_STREAM: StreamSpec = workQueue("BATON_SYNTHESIS", [subjects.synthesisAll]);

/** Lifecycle events and rejections, kept 7 days so late watchers see the history. */
export const EVENTS_STREAM: StreamSpec = {
  name: "BATON_EVENTS",
  subjects: [subjects.eventsAll, subjects.rejected],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 7 * DAY,
  maxMsgsPerSubject: -1,
};

/** Outcomes, the last one per task kept 30 days so `baton result <taskId>` works later. */
export const OUTCOMES_STREAM: StreamSpec = {
  name: "BATON_OUTCOMES",
  subjects: [subjects.completedAll, subjects.failedAll],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 30 * DAY,
  maxMsgsPerSubject: 1,
};

/**
 * The server's MAX_DELIVERIES advisories, captured so none is missed while no dead-letter
 * handler listens (advisories are core NATS messages). Kept 7 days as an audit trail.
 */
export const ADVISORIES_STREAM: StreamSpec = {
  name: "BATON_ADVISORIES",
  subjects: [subjects.maxDeliveriesAdvisoriesAll],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 7 * DAY,
  maxMsgsPerSubject: -1,
};

/**
 * Dead letters on `dlq.<stream>.<consumer>.<seq>`: the original payload and headers plus
 * `Baton-Dlq-*` headers (see `dead-letter.ts`), kept 30 days for `baton dlq` to show or replay.
 */
export const DLQ_STREAM: StreamSpec = {
  name: "BATON_DLQ",
  subjects: [subjects.deadLetterAll],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 30 * DAY,
  maxMsgsPerSubject: -1,
};

/** Approval requests and decisions, kept 30 days (the record of who decided what is the audit ledger's). */
export const APPROVALS_STREAM: StreamSpec = {
  name: "BATON_APPROVALS",
  subjects: [subjects.approvalRequestsAll, subjects.approvalDecisionsAll],
  retention: "limits",
  storage: "file",
  duplicateWindowMs: 2 * MINUTE,
  maxAgeMs: 30 * DAY,
  maxMsgsPerSubject: -1,
};

/** Every stream Baton provisions. */
export const STREAMS: readonly StreamSpec[] = [
  SUBMISSIONS_STREAM,
  WORK_STREAM,
  RESULTS_STREAM,
  SYNTHESIS_STREAM,
  EVENTS_STREAM,
  OUTCOMES_STREAM,
  ADVISORIES_STREAM,
  DLQ_STREAM,
  APPROVALS_STREAM,
  AUDIT_IN_STREAM,
  AUDIT_STREAM,
];

/** The supervisor's consumer of submissions. */
export const SUBMISSIONS_CONSUMER: ConsumerSpec = {
  stream: SUBMISSIONS_STREAM.name,
  durable: "supervisor-submissions",
  filterSubject: subjects.submit,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 256,
};

/** The supervisor's consumer of cancellations. */
export const CANCEL_CONSUMER: ConsumerSpec = {
  stream: SUBMISSIONS_STREAM.name,
  durable: "supervisor-cancellations",
  filterSubject: subjects.cancel,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 256,
};

/** The supervisor's consumer of step results. */
export const RESULTS_CONSUMER: ConsumerSpec = {
  stream: RESULTS_STREAM.name,
  durable: "supervisor-results",
  filterSubject: subjects.resultsAll,
  ackWaitMs: 30_000,
  maxDeliver: 5,
  maxAckPending: 1024,
};

/** The synthesizer's consumer of synthesis requests. */
export const SYNTHESIS_CONSUMER: ConsumerSpec = {
  stream: SYNTHESIS_STREAM.name,
  durable: "synthesizer",
  filterSubject: subjects.synthesisAll,
  ackWaitMs: 60_000,
  maxDeliver: 5,
  maxAckPending: 256,
};

/**
 * The one durable consumer shared by every replica of an agent's worker service, `<agent>-agent`
 * on `work.<agent>.>`. Not provisioned with the others: the first replica of an agent type creates
 * it (work published before that waits in the work-queue stream).
 */
export function workConsumer(agent: AgentName): ConsumerSpec {
  return {
    stream: WORK_STREAM.name,
    durable: `${agent}-agent`,
    filterSubject: subjects.workOf(agent),
    // Short, so a dead worker's step comes back within seconds; a live worker keeps a long
    // step's lease with working() heartbeats every ack_wait / 3 (WORK_ACK_WAIT_MS overrides).
    ackWaitMs: 5_000,
    maxDeliver: 5,
    maxAckPending: 1024,
  };
}

/** The supervisor's consumer of approval decisions. */
export const APPROVALS_CONSUMER: ConsumerSpec = {
  stream: APPROVALS_STREAM.name,
  durable: "supervisor-approvals",
  filterSubject: subjects.approvalDecisionsAll,
  ackWaitMs: 30_000,
  maxDeliver: 10,
  maxAckPending: 256,
};

/** The supervisor's dead-letter handler: moves messages that exhausted max_deliver to BATON_DLQ. */
export const DEAD_LETTER_CONSUMER: ConsumerSpec = {
  stream: ADVISORIES_STREAM.name,
  durable: "dead-letter-handler",
  filterSubject: subjects.maxDeliveriesAdvisoriesAll,
  ackWaitMs: 30_000,
  maxDeliver: 10,
  maxAckPending: 256,
};

/** The control plane's consumers, provisioned by every service at start (agents add their own, {@link workConsumer}). */
export const CONSUMERS: readonly ConsumerSpec[] = [
  SUBMISSIONS_CONSUMER,
  CANCEL_CONSUMER,
  RESULTS_CONSUMER,
  SYNTHESIS_CONSUMER,
  DEAD_LETTER_CONSUMER,
  APPROVALS_CONSUMER,
  AUDIT_CHAINER_CONSUMER,
];

/** A JetStream KV bucket, as data. `ttlMs`: max age of an entry in ms (0 = kept until deleted). */
export interface KvBucketSpec {
  readonly name: string;
  readonly history: number;
  readonly ttlMs: number;
}

/**
 * JetStream KV buckets: task state and budget ledgers (CAS on revision), the embedded memory
 * store, the effect ledger, agent cards (`<agent>` → {@link AgentCard}) and live agent replicas
 * (`<agent>.<instance>` → {@link AgentReplica}, expiring after {@link AGENT_REPLICA_TTL_MS}).
 */
export const KV_BUCKETS = {
  tasks: { name: "baton_tasks", history: 1, ttlMs: 0 },
  memory: { name: "baton_memory", history: 1, ttlMs: 0 },
  budgets: { name: "baton_budgets", history: 1, ttlMs: 0 },
  effects: { name: "baton_effects", history: 1, ttlMs: 0 },
  agents: { name: "baton_agents", history: 1, ttlMs: 0 },
  agentReplicas: { name: "baton_agent_replicas", history: 1, ttlMs: AGENT_REPLICA_TTL_MS },
  /** Approval records (`ApprovalRecord`) by approval id, kept 30 days like the requests in BATON_APPROVALS. */
  approvals: { name: "baton_approvals", history: 1, ttlMs: 30 * DAY },
  /** Saved conversations of LLM loops paused for approval: `<agent>.<taskId>.<stepId>.<dispatchId>`, kept 7 days. */
  checkpoints: { name: "baton_checkpoints", history: 1, ttlMs: 7 * DAY },
} as const satisfies Record<string, KvBucketSpec>;

/** Message headers Baton sets besides the W3C trace context headers. */
export const HEADERS = {
  /** JetStream de-duplication id. */
  msgId: "Nats-Msg-Id",
  taskId: "Baton-Task-Id",
  stepId: "Baton-Step-Id",
} as const;
