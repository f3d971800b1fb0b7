import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ApprovalDecision,
  ApprovalRequest,
  isTrustedEvent,
  subjects,
  TaskCompleted,
  TaskEvent,
  TaskFailed,
  TaskRejected,
  type TaskSubmission,
} from "@baton/contracts";
import { connectNats, publishMessage } from "@baton/core";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { credentialsFor, ROOT } from "./services.ts";

/** The example plan used by the end-to-end tests. */
export function examplePlan(file = "seattle-weather-brief.json"): { goal: string; plan: NonNullable<TaskSubmission["plan"]> } {
  return JSON.parse(readFileSync(join(ROOT, "examples", file), "utf8"));
}

/** A test client: a plain NATS connection, as any client in any language would use. */
export interface TestClient {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  /** Publishes raw bytes on `tasks.submit` through JetStream. */
  submitRaw(data: Uint8Array | string): Promise<void>;
  submit(submission: Record<string, unknown>): Promise<void>;
  /** Waits for the task's single outcome. */
  outcome(
    taskId: string,
    timeoutMs?: number,
  ): Promise<{ status: "completed"; value: TaskCompleted } | { status: "failed"; value: TaskFailed }>;
  /** Rejections seen so far (subscription opened at connect). */
  readonly rejections: TaskRejected[];
  waitForRejection(predicate: (r: TaskRejected) => boolean, timeoutMs?: number): Promise<TaskRejected>;
  /** Events of a task seen so far (subscribe with `watch` before submitting); only those from a role that may speak for them. */
  watch(taskId: string): TaskEvent[];
  /** Events seen by `watch` on a subject whose role may not speak for them (forgeries), with their subjects. */
  readonly untrusted: { subject: string; event: TaskEvent }[];
  /** Approval requests seen so far (`approvals.requests.*`, subscribed at connect). */
  readonly approvalRequests: ApprovalRequest[];
  /** Waits for an approval request matching `predicate` (default 15 s). */
  waitForApproval(predicate: (r: ApprovalRequest) => boolean, timeoutMs?: number): Promise<ApprovalRequest>;
  /** Publishes a decision on `approvals.decisions.<id>` (operator credentials). */
  decide(approvalId: string, decision: "approve" | "deny", options?: { approver?: string; comment?: string }): Promise<void>;
  /**
   * Approves every request (seen so far and to come) whose task `taskIds` accepts, as `approver`
   * (default `test-approver`); returns a function that stops it.
   */
  approveAll(taskIds: (taskId: string) => boolean, approver?: string): () => void;
  close(): Promise<void>;
}

/**
 * Connects a test client to `url`: with `credsFile`, or else — when the server belongs to a stack
 * with authentication — with that stack's operator credentials (tests observe everything).
 */
export async function connectClient(url: string, credsFile?: string): Promise<TestClient> {
  const nc = await connectNats(url, "test-client", undefined, {
    credsFile: credsFile ?? (await credentialsFor(url, { kind: "operator" })),
  });
  const js = jetstream(nc);
  const rejections: TaskRejected[] = [];
  const untrusted: { subject: string; event: TaskEvent }[] = [];
  const subs: Subscription[] = [];
  const rejectedSub = nc.subscribe(subjects.rejected, {
    callback: (_err, msg) => {
      rejections.push(TaskRejected.parse(msg.json()));
    },
  });
  subs.push(rejectedSub);
  const approvalRequests: ApprovalRequest[] = [];
  const approvalListeners = new Set<(r: ApprovalRequest) => void>();
  subs.push(
    nc.subscribe(subjects.approvalRequestsAll, {
      callback: (_err, msg) => {
        const request = ApprovalRequest.parse(msg.json());
        approvalRequests.push(request);
        for (const listener of approvalListeners) listener(request);
      },
    }),
  );
  const decide: TestClient["decide"] = async (approvalId, decision, options = {}) => {
    await publishMessage(
      js,
      subjects.approvalDecision(approvalId),
      ApprovalDecision,
      {
        schemaVersion: 1,
        approvalId,
        decision,
        approver: options.approver ?? "test-approver",
        ...(options.comment ? { comment: options.comment } : {}),
        decidedAt: new Date().toISOString(),
      },
      { template: "approvals.decisions.{approvalId}" },
    );
  };
  const outcomes = new Map<string, Promise<unknown>>();
  const ensureOutcome = (taskId: string) => {
    let p = outcomes.get(taskId);
    if (!p) {
      p = new Promise((resolve) => {
        const sub = nc.subscribe(`tasks.*.${taskId}`, {
          callback: (_err, msg) => {
            if (msg.subject === subjects.completed(taskId)) resolve({ status: "completed", value: TaskCompleted.parse(msg.json()) });
            if (msg.subject === subjects.failed(taskId)) resolve({ status: "failed", value: TaskFailed.parse(msg.json()) });
          },
        });
        subs.push(sub);
      });
      outcomes.set(taskId, p);
    }
    return p;
  };
  const events = new Map<string, TaskEvent[]>();
  return {
    nc,
    js,
    rejections,
    untrusted,
    approvalRequests,
    async waitForApproval(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = approvalRequests.find(predicate);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no matching approval request within ${timeoutMs} ms; saw ${approvalRequests.map((r) => r.approvalId).join(", ")}`);
    },
    decide,
    approveAll(taskIds, approver = "test-approver") {
      const done = new Set<string>();
      const approve = (r: ApprovalRequest) => {
        if (!taskIds(r.taskId) || done.has(r.approvalId)) return;
        done.add(r.approvalId);
        // A lost decision shows as the test's task waiting for its outcome; the reason goes to stderr.
        decide(r.approvalId, "approve", { approver }).catch((error: unknown) =>
          console.error(`approveAll: no decision for ${r.approvalId}`, error),
        );
      };
      for (const r of approvalRequests) approve(r);
      approvalListeners.add(approve);
      return () => approvalListeners.delete(approve);
    },
    async submitRaw(data) {
      await js.publish(subjects.submit, data);
    },
    async submit(submission) {
      if (typeof submission.taskId === "string") void ensureOutcome(submission.taskId);
      await js.publish(subjects.submit, JSON.stringify(submission));
    },
    outcome(taskId, timeoutMs = 60_000) {
      const p = ensureOutcome(taskId) as Promise<never>;
      return Promise.race([
        p,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no outcome for ${taskId} within ${timeoutMs} ms`)), timeoutMs),
        ),
      ]);
    },
    async waitForRejection(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = rejections.find(predicate);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no matching rejection within ${timeoutMs} ms; saw ${JSON.stringify(rejections)}`);
    },
    watch(taskId) {
      let list = events.get(taskId);
      if (!list) {
        const created: TaskEvent[] = [];
        list = created;
        events.set(taskId, created);
        void ensureOutcome(taskId);
        subs.push(
          nc.subscribe(subjects.eventsOf(taskId), {
            callback: (_err, msg) => {
              const event = TaskEvent.parse(msg.json());
              if (isTrustedEvent(msg.subject, event)) created.push(event);
              else untrusted.push({ subject: msg.subject, event });
            },
          }),
        );
      }
      return list;
    },
    async close() {
      for (const s of subs) s.unsubscribe();
      await nc.drain();
    },
  };
}
