import { afterAll, beforeAll } from "vitest";
import { connectClient, type TestClient } from "./client.ts";
import { startStack, type TestStack } from "./services.ts";

/** The stack and client of a suite, available inside its tests. */
export interface StackFixture {
  readonly stack: TestStack;
  readonly client: TestClient;
}

/**
 * Registers vitest hooks that start a stack (a private nats-server and the services as real
 * processes) and a client before the suite's tests, and stop both after them.
 * @throws Error when `stack` or `client` is read outside the suite's tests.
 */
export function useStackWithClient(options?: Parameters<typeof startStack>[0]): StackFixture {
  let stack: TestStack | undefined;
  let client: TestClient | undefined;
  beforeAll(async () => {
    stack = await startStack(options);
    client = await connectClient(stack.nats.url);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });
  return {
    get stack() {
      if (!stack) throw new Error("the stack is only available inside the suite's tests");
      return stack;
    },
    get client() {
      if (!client) throw new Error("the client is only available inside the suite's tests");
      return client;
    },
  };
}
