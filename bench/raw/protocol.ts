/**
 * The raw nats.js baseline: Baton's message pattern for a step — work on a JetStream work-queue
 * stream, one durable pull consumer per role, ack, result on a results stream, the next step's
 * work published by the "supervisor" — with plain JSON and nothing else (no schema validation,
 * no KV state, no events, no trace headers, no de-duplication ids, no synthesizer).
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";

export const RAW = {
  submitStream: "RAW_SUBMIT",
  workStream: "RAW_WORK",
  resultsStream: "RAW_RESULTS",
  doneStream: "RAW_DONE",
  submitConsumer: "raw-supervisor-submit",
  resultsConsumer: "raw-supervisor-results",
  workConsumer: "raw-worker",
  submit: "raw.submit",
  work: (taskId: string, step: number) => `raw.work.${taskId}.${step}`,
  result: (taskId: string, step: number) => `raw.results.${taskId}.${step}`,
  done: (taskId: string) => `raw.done.${taskId}`,
  doneAll: "raw.done.*",
} as const;

/** A task: layers of parallel steps, each layer after the previous one (e.g. [1, 1, 1] = 3 sequential steps, [16, 1] = fan-out/fan-in). */
export interface RawSubmission {
  readonly taskId: string;
  readonly layers: readonly number[];
}
export interface RawWork {
  readonly taskId: string;
  readonly step: number;
  /** The previous layer's outputs (what `$fromStep` references carry in Baton). */
  readonly inputs: readonly unknown[];
}
export interface RawResult {
  readonly taskId: string;
  readonly step: number;
  readonly output: unknown;
}

/** Creates the baseline's streams (file storage, like Baton's) and durable pull consumers. */
export async function provisionRaw(jsm: JetStreamManager): Promise<void> {
  const workQueue = (name: string, subject: string) =>
    jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File, num_replicas: 1 });
  await workQueue(RAW.submitStream, RAW.submit);
  await workQueue(RAW.workStream, "raw.work.>");
  await workQueue(RAW.resultsStream, "raw.results.>");
  await jsm.streams.add({
    name: RAW.doneStream,
    subjects: [RAW.doneAll],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_msgs_per_subject: 1,
    num_replicas: 1,
  });
  const durable = (stream: string, name: string) =>
    jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(30_000),
      max_deliver: 5,
      max_ack_pending: 1024,
    });
  await durable(RAW.submitStream, RAW.submitConsumer);
  await durable(RAW.resultsStream, RAW.resultsConsumer);
  await durable(RAW.workStream, RAW.workConsumer);
}

/**
 * Runs `slots` concurrent pull loops on one durable, each `next()`-ing one message at a time
 * (like Baton's consumer loop: a slot never holds more than one message).
 */
export async function pullLoop(
  js: JetStreamClient,
  stream: string,
  durable: string,
  slots: number,
  handle: (msg: JsMsg) => Promise<void>,
  stopped: () => boolean,
): Promise<void> {
  const consumer = await js.consumers.get(stream, durable);
  const slot = async () => {
    while (!stopped()) {
      try {
        const msg = await consumer.next({ expires: 5_000 });
        if (msg) await handle(msg);
      } catch (error) {
        if (stopped()) return;
        process.stderr.write(`pull on ${durable} failed: ${String(error)}\n`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  await Promise.all(Array.from({ length: slots }, slot));
}
