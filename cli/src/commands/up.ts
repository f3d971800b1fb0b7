import { resolve } from "node:path";
import { CliError } from "../cli-error.ts";
import { extraAgents } from "../extra-agents.ts";
import { openConnection } from "../connection.ts";
import { EXIT, type ExitCode } from "../exit-codes.ts";
import { formatDuration } from "../format.ts";
import { formatServiceLog } from "../service-logs.ts";
import { type Stack, StackError, startStack } from "../stack.ts";
import { type CommandContext, onInterrupt } from "./context.ts";

/** Flags of `baton up`. */
export interface UpFlags {
  /** Data folder; the nats-server keeps JetStream in `<dataDir>/nats`. Default `.baton`. */
  readonly dataDir: string;
  /** False with `--no-nats`: start no server, use `--nats` / NATS_URL. */
  readonly nats: boolean;
  /** Port of the nats-server started; default 4222. */
  readonly port?: number | undefined;
  /** Print the services' pino JSON lines as they are. */
  readonly rawLogs?: boolean | undefined;
  /** LOG_LEVEL of the services; default `info`. */
  readonly logLevel?: string | undefined;
  /** Folders of further agents to start (`--agent`). */
  readonly agent?: readonly string[] | undefined;
  /** MCP agent config files (`--mcp`). */
  readonly mcp?: readonly string[] | undefined;
}

/**
 * `baton up`: runs the local stack in the foreground. Starts a nats-server with JetStream in
 * `<data-dir>/nats` on port 4222 (or `--port`) unless `--no-nats`, `--nats` or NATS_URL say to
 * use an existing server; then the services under `services/` (and the agents of `--agent`
 * folders and `--mcp` configs), printing their log lines prefixed with the service name. Prints "Baton is up: NATS at <url>" once all are ready. On SIGINT / SIGTERM stops
 * the services (SIGTERM, SIGKILL after 10 s), then the nats-server. Nothing is restarted.
 * @returns 0 after a clean stop, 130 when interrupted while starting.
 * @throws CliError (exit 1): nats-server missing (with install hints), port in use (suggests
 *   --port), NATS unreachable, or a service exited before it was ready (with its last output).
 */
export async function upCommand(ctx: CommandContext, flags: UpFlags): Promise<ExitCode> {
  const { output } = ctx;
  const agents = extraAgents(flags);
  const external = !flags.nats || ctx.natsUrlGiven;
  if (external) {
    const conn = await openConnection(ctx.natsUrl, ctx.credsFor("client"));
    await conn.close();
    output.out(`Using the NATS server at ${ctx.natsUrl}`);
  } else {
    output.out(`Starting nats-server on 127.0.0.1:${flags.port ?? 4222} (JetStream store ${resolve(flags.dataDir, "nats")})…`);
  }
  const interrupt = onInterrupt();
  let interrupted = false;
  void interrupt.signalled.then(() => (interrupted = true));
  const started = Date.now();
  let stack: Stack;
  try {
    stack = await startStack({
      ...(external ? { natsUrl: ctx.natsUrl } : { dataDir: resolve(flags.dataDir), port: flags.port ?? 4222 }),
      ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
      agents,
      onLog: (service, line) => output.out(formatServiceLog(service, line, { raw: flags.rawLogs ?? false })),
      onExit: (service, code, signal) =>
        output.out(`${service} exited (${signal ?? `code ${code}`}); it is not restarted — stop with Ctrl-C and run \`baton up\` again`),
    });
  } catch (error) {
    interrupt.dispose();
    if (interrupted) return EXIT.interrupted;
    if (error instanceof StackError) throw new CliError(error.message, EXIT.failed, [], { cause: error });
    throw error;
  }
  output.out(`Baton is up: NATS at ${stack.natsUrl} (started in ${formatDuration(Date.now() - started)})`);
  if (stack.authDir) {
    output.out(`  authentication on: anonymous connections are refused; credentials in ${stack.authDir}/creds`);
    // The CLI finds them by itself only under .baton/auth of the folder it runs in.
    const found = resolve(stack.authDir) === resolve(".baton", "auth");
    output.out(
      found
        ? `  baton commands in this folder use ${stack.clientCreds} (and operator.creds for approvals, dlq, audit, agents remove)`
        : `  for baton commands: --creds ${stack.clientCreds} (or operator.creds for approvals, dlq, audit, agents remove), or NATS_CREDS`,
    );
  }
  if (stack.natsUrl !== "nats://127.0.0.1:4222" && !external)
    output.out(`  export NATS_URL=${stack.natsUrl}   # for baton commands in other shells`);
  output.out("Press Ctrl-C to stop.");
  const signal = await interrupt.signalled;
  output.out(`${signal}: stopping the services, then nats-server…`);
  await stack.stop();
  interrupt.dispose();
  output.out("Stopped.");
  return EXIT.ok;
}
