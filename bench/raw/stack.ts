import {
  type BenchNats,
  managerFor,
  type NodeProcess,
  settle,
  spawnNode,
  startNats,
  waitForPullers,
  WORKER_CONCURRENCY,
} from "../lib/stack.ts";
import { provisionRaw, RAW } from "./protocol.ts";

/** The raw baseline's processes: a private nats-server, the raw supervisor and the raw worker (same slot counts as Baton's defaults). */
export interface RawStack {
  readonly nats: BenchNats;
  readonly processes: NodeProcess[];
  /** How long the processes took to become quiet after they were ready, in ms. */
  readonly settledMs: number;
  stop(): Promise<void>;
}

const SUPERVISOR_SLOTS = 8;

export async function startRawStack(options: { natsUrlFor?: (url: string) => Promise<string> } = {}): Promise<RawStack> {
  const nats = await startNats("raw");
  const { nc, jsm } = await managerFor(nats.url);
  await provisionRaw(jsm);
  const url = options.natsUrlFor ? await options.natsUrlFor(nats.url) : nats.url;
  const processes = [
    spawnNode("raw-supervisor", "bench/raw/supervisor.ts", {
      NATS_URL: url,
      SUPERVISOR_CONCURRENCY: String(SUPERVISOR_SLOTS),
      SERVICE_INSTANCE_ID: "raw-supervisor",
    }),
    spawnNode("raw-worker", "bench/raw/worker.ts", {
      NATS_URL: url,
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      SERVICE_INSTANCE_ID: "raw-worker",
    }),
  ];
  const stop = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await nc.close();
    await nats.stop();
  };
  try {
    await waitForPullers(
      jsm,
      [
        { stream: RAW.submitStream, durable: RAW.submitConsumer, waiting: SUPERVISOR_SLOTS },
        { stream: RAW.resultsStream, durable: RAW.resultsConsumer, waiting: SUPERVISOR_SLOTS },
        { stream: RAW.workStream, durable: RAW.workConsumer, waiting: WORKER_CONCURRENCY },
      ],
      processes,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { nats, processes, settledMs: await settle(), stop };
}
