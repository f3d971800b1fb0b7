import type { AgentName } from "./agents.ts";

/**
 * Every NATS subject Baton uses, in one place. Tokens are ids validated by `Identifier`
 * (no dots or wildcards), so a builder never produces a wider subject than intended.
 */
export const subjects = {
  /** Clients publish {@link TaskSubmission} JSON here. */
  submit: "tasks.submit",
  /** Clients publish {@link TaskCancel} here to cancel a task. */
  cancel: "tasks.cancel",
  /** Core NATS broadcast from the supervisor: abort every in-flight step of the task. */
  abort: (taskId: string) => `baton.control.abort.${taskId}`,
  abortAll: "baton.control.abort.*",
  /** {@link TaskRejected} for every submission that could not be accepted. */
  rejected: "tasks.rejected",
  completed: (taskId: string) => `tasks.completed.${taskId}`,
  completedAll: "tasks.completed.*",
  failed: (taskId: string) => `tasks.failed.${taskId}`,
  failedAll: "tasks.failed.*",
  /** Both outcome subjects of one task. */
  outcomes: (taskId: string) => [`tasks.completed.${taskId}`, `tasks.failed.${taskId}`] as const,
  /** Task-level events, published by the control plane (supervisor, synthesizer). */
  taskEvents: (taskId: string) => `tasks.events.${taskId}.task`,
  /** Step events an agent's workers publish about their own steps: permissions bind the token to the agent. */
  agentEvents: (taskId: string, agent: AgentName) => `tasks.events.${taskId}.agent.${agent}`,
  /** Every event of one task (both kinds above). */
  eventsOf: (taskId: string) => `tasks.events.${taskId}.>`,
  eventsAll: "tasks.events.>",
  work: (agent: AgentName, taskId: string, stepId: string) => `work.${agent}.${taskId}.${stepId}`,
  workOf: (agent: AgentName) => `work.${agent}.>`,
  workAll: "work.>",
  /** A step result, published by a worker of `agent` (permissions let an agent publish only its own). */
  result: (agent: AgentName, taskId: string, stepId: string) => `results.${agent}.${taskId}.${stepId}`,
  resultsOf: (agent: AgentName) => `results.${agent}.>`,
  resultsAll: "results.>",
  synthesis: (taskId: string) => `synthesis.${taskId}`,
  synthesisAll: "synthesis.*",
  /** The server's advisory when a message exhausts a consumer's max_deliver (JSON, no payload). */
  maxDeliveriesAdvisory: (stream: string, consumer: string) => `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`,
  maxDeliveriesAdvisoriesAll: "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>",
  /** An {@link ApprovalRequest}: any approver may serve it. */
  approvalRequest: (approvalId: string) => `approvals.requests.${approvalId}`,
  approvalRequestsAll: "approvals.requests.*",
  /** An {@link ApprovalDecision}, from an approver (operator role). */
  approvalDecision: (approvalId: string) => `approvals.decisions.${approvalId}`,
  approvalDecisionsAll: "approvals.decisions.*",
  /** A dead letter: the original payload of message `seq` of `stream` that `consumer` gave up on. */
  deadLetter: (stream: string, consumer: string, seq: number) => `dlq.${stream}.${consumer}.${seq}`,
  deadLetterAll: "dlq.>",
} as const;
