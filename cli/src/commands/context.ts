import type { Output } from "../output.ts";

/** What every command gets from the global options. */
export interface CommandContext {
  /** `--nats`, else NATS_URL, else `nats://127.0.0.1:4222`. */
  readonly natsUrl: string;
  /** True when the URL came from `--nats` or NATS_URL rather than the default. */
  readonly natsUrlGiven: boolean;
  readonly output: Output;
  /**
   * The credentials file to connect with as `role`: `--creds`, else NATS_CREDS, else the file
   * `baton up` wrote for that role in `.baton/auth/creds/` of the current folder when it exists,
   * else none (an open server).
   */
  credsFor(role: "client" | "operator"): string | undefined;
}

/**
 * Resolves when the process gets SIGINT or SIGTERM (once); `dispose()` removes the handlers.
 * Commands that wait (watch, run, up) use it to stop cleanly instead of dying mid-output.
 */
export function onInterrupt(): { readonly signalled: Promise<NodeJS.Signals>; dispose(): void } {
  let resolve!: (signal: NodeJS.Signals) => void;
  const signalled = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const handler = () => resolve(signal);
    process.once(signal, handler);
    return [signal, handler] as const;
  });
  return {
    signalled,
    dispose: () => {
      for (const [signal, handler] of handlers) process.removeListener(signal, handler);
    },
  };
}
