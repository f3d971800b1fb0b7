/**
 * The raw baseline's supervisor: pulls a submission and publishes the first layer's work; pulls
 * each result, acks, and when a layer is complete publishes the next layer's work, or the
 * outcome on `raw.done.<taskId>` after the last layer. Task state lives in memory.
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pullLoop, RAW, type RawResult, type RawSubmission, type RawWork } from "./protocol.ts";

interface Task {
  readonly layers: readonly number[];
  layer: number;
  remaining: number;
  outputs: unknown[];
}

const nc = await connect({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  name: process.env.SERVICE_INSTANCE_ID ?? "raw-supervisor",
});
const js = jetstream(nc);
const tasks = new Map<string, Task>();
const slots = Number(process.env.SUPERVISOR_CONCURRENCY ?? 8);
let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
  void nc.drain().then(() => process.exit(0));
});

async function dispatch(taskId: string, task: Task, inputs: unknown[]): Promise<void> {
  const count = task.layers[task.layer] ?? 0;
  task.remaining = count;
  task.outputs = [];
  const first = task.layers.slice(0, task.layer).reduce((a, b) => a + b, 0);
  await Promise.all(
    Array.from({ length: count }, (_, i) => {
      const work: RawWork = { taskId, step: first + i, inputs };
      return js.publish(RAW.work(taskId, first + i), JSON.stringify(work));
    }),
  );
}

await Promise.all([
  pullLoop(
    js,
    RAW.submitStream,
    RAW.submitConsumer,
    slots,
    async (msg) => {
      const submission = msg.json<RawSubmission>();
      msg.ack();
      const task: Task = { layers: submission.layers, layer: 0, remaining: 0, outputs: [] };
      tasks.set(submission.taskId, task);
      await dispatch(submission.taskId, task, []);
    },
    () => stopping,
  ),
  pullLoop(
    js,
    RAW.resultsStream,
    RAW.resultsConsumer,
    slots,
    async (msg) => {
      const result = msg.json<RawResult>();
      msg.ack();
      const task = tasks.get(result.taskId);
      if (!task) return;
      task.outputs.push(result.output);
      if (--task.remaining > 0) return;
      task.layer++;
      if (task.layer < task.layers.length) {
        await dispatch(result.taskId, task, task.outputs);
        return;
      }
      tasks.delete(result.taskId);
      await js.publish(RAW.done(result.taskId), JSON.stringify({ taskId: result.taskId, outputs: task.outputs }));
    },
    () => stopping,
  ),
]);
