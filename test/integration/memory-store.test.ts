import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { type LocalNatsServer, startLocalNatsServer } from "@baton/core";
import { KvMemoryStore, MemoryStoreError, MongoMemoryStore } from "@baton/memory";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeMemoryStoreContract, summary } from "../unit/memory-store.contract.ts";

describe("KvMemoryStore (real nats-server)", () => {
  let server: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;

  beforeAll(async () => {
    server = await startLocalNatsServer({ storeDir: await mkdtemp(join(tmpdir(), "baton-memory-nats-")) });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.stop();
    if (server) await rm(server.storeDir, { recursive: true, force: true });
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
