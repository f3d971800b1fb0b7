/** The raw baseline's worker: pulls work, acks, "runs" a zero-latency tool, publishes the result. */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { pullLoop, RAW, type RawResult, type RawWork } from "./protocol.ts";

const nc = await connect({
  servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  name: process.env.SERVICE_INSTANCE_ID ?? "raw-worker",
});
const js = jetstream(nc);
let stopping = false;
process.once("SIGTERM", () => {
  stopping = true;
  void nc.drain().then(() => process.exit(0));
});
await pullLoop(
  js,
  RAW.workStream,
  RAW.workConsumer,
  Number(process.env.WORKER_CONCURRENCY ?? 4),
  async (msg) => {
    const work = msg.json<RawWork>();
    msg.ack();
    const last = work.inputs.at(-1) as { result?: number } | undefined;
    const result: RawResult = { taskId: work.taskId, step: work.step, output: { result: (last?.result ?? 0) + 1 } };
    await js.publish(RAW.result(work.taskId, work.step), JSON.stringify(result));
  },
  () => stopping,
);
