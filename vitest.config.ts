import { defineConfig } from "vitest/config";

// Three projects: fast unit tests, integration tests that start their own nats-server
// processes and real service processes, and chaos tests that kill them (serial files: the
// machine has 2 cores).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Real SIGKILLs of services and nats-server under load (test/chaos); one file at a time.
        // Scale with CHAOS_TASKS (default 40, the CI size).
        test: {
          name: "chaos",
          include: ["test/chaos/**/*.test.ts"],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        // Prompt-injection attacks on the agent loop's approval gate (test/security); SECURITY_CASES
        // sets the size (default 20 cases, the CI size; `npm run test:security` runs all of them).
        test: {
          name: "security",
          include: ["test/security/**/*.test.ts"],
          testTimeout: 120_000,
        },
      },
    ],
  },
});
