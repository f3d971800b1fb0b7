import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { KvMemoryStore, MemoryStoreError, MongoMemoryStore } from "@baton/memory";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeMemoryStoreContract, summary } from "../unit/memory-store.contract.ts";

/** A free TCP port on 127.0.0.1 (the OS picks one; tiny race until nats-server binds it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Resolves once something accepts TCP connections on `port`, rejects after `timeoutMs`. */
async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: "127.0.0.1", port });
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not accept connections on ${port} within ${timeoutMs} ms`);
}

/** Starts a throwaway JetStream-enabled nats-server (local helper; a shared one is coming). */
async function startNatsServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "baton-memory-nats-"));
  const port = await freePort();
  const child = spawn("nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitForPort(port, child);
  } catch (error) {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe("KvMemoryStore (real nats-server)", () => {
  let server: Awaited<ReturnType<typeof startNatsServer>> | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  // A bucket per test keeps tests independent; cleanup destroys it.
  describeMemoryStoreContract("KV", async () => {
    if (!nc) throw new Error("no NATS connection");
    const bucket = `memtest_${randomUUID().replaceAll("-", "")}`;
    const conn = nc;
    const store = await KvMemoryStore.open(conn, { bucket });
    return {
      store,
      async cleanup() {
        await store.close();
        await (await new Kvm(conn).open(bucket)).destroy();
      },
    };
  });

  // KV-specific: the index is per process, so check that another "host" sees writes at once.
  it("shares one memory between stores on the same bucket (read-your-writes across instances)", async () => {
    if (!nc) throw new Error("no NATS connection");
    const bucket = `memtest_${randomUUID().replaceAll("-", "")}`;
    const a = await KvMemoryStore.open(nc, { bucket });
    const b = await KvMemoryStore.open(nc, { bucket });
    const s = summary({ taskId: "t-shared", goal: "Measure glacier retreat" });
    await a.put(s);
    expect(await b.search("glacier")).toEqual([s]);
    expect(await b.list()).toEqual([s]);
    // A delete made directly on the bucket leaves the other store's index too.
    const kv = await new Kvm(nc).open(bucket);
    await kv.delete("t-shared");
    expect(await b.search("glacier")).toEqual([]);
    expect(await a.get("t-shared")).toBeUndefined();
    await a.close();
    await expect(a.list()).rejects.toBeInstanceOf(MemoryStoreError);
    expect(nc.isClosed()).toBe(false); // close() leaves the caller's connection open
    await b.close();
    await kv.destroy();
  });
});

const mongodbUri = process.env.MONGODB_URI;
const describeMongo = mongodbUri ? describe : describe.skip;
const mongoTitle = mongodbUri
  ? "MongoMemoryStore (MONGODB_URI)"
  : "MongoDB contract run SKIPPED: MONGODB_URI is not set (no MongoDB server on this machine)";

describeMongo(mongoTitle, () => {
  // A collection per test in a test database; cleanup drops it with a separate client.
  describeMemoryStoreContract("MongoDB", async () => {
    const uri = mongodbUri ?? "";
    const dbName = "baton_test";
    const collection = `memories_${randomUUID().replaceAll("-", "")}`;
    const store = await MongoMemoryStore.connect(uri, { dbName, collection });
    return {
      store,
      async cleanup() {
        await store.close();
        const client = await MongoClient.connect(uri);
        try {
          await client.db(dbName).dropCollection(collection);
        } finally {
          await client.close();
        }
      },
    };
  });
});
