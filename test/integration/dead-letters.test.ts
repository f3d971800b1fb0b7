import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  ADVISORIES_STREAM,
  BaseServiceEnv as _unused,
  DEAD_LETTER_HEADERS,
  DLQ_STREAM,
  readDeadLetterHeaders,
  subjects,
  TaskRejected,
  WORK_STREAM,
} from "@baton/contracts";
import { BaseServiceEnv, loadConfig, natsServerAvailable, startService as startServiceContext } from "@baton/core";
import { startDeadLetterHandler } from "@baton/supervisor";
import { AckPolicy, type JetStreamManager, jetstreamManager, RetentionPolicy, type StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders, nanos } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, type TestClient } from "../support/client.ts";
import { ROOT, startStack, type TestStack } from "../support/services.ts";
