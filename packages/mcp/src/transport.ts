import { StringDecoder } from "node:string_decoder";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { McpServerConfig } from "./config.ts";

/** Which transport a server uses. */
export type McpTransportKind = "stdio" | "http";

/** The transport kind of a server config. */
export function transportKind(server: McpServerConfig): McpTransportKind {
  return server.url === undefined ? "stdio" : "http";
}

/**
 * A new, unstarted transport for a server (the SDK's `Client.connect` starts it):
 * - stdio: spawns `command args` in `cwd` with the SDK's minimal inherited environment plus
 *   `env`; the child's stderr is piped to `onStderr` line by line (never to this process's stderr);
 * - http: Streamable HTTP to `url`, with `headers` on every request.
 */
export function createTransport(server: McpServerConfig, onStderr: (line: string) => void): Transport {
  if (server.url !== undefined) {
    return new StreamableHTTPClientTransport(new URL(server.url), server.headers ? { requestInit: { headers: server.headers } } : {});
  }
  const transport = new StdioClientTransport({
    command: server.command ?? "",
    args: server.args ?? [],
    ...(server.env ? { env: server.env } : {}),
    ...(server.cwd ? { cwd: server.cwd } : {}),
    stderr: "pipe",
  });
  let buffer = "";
  const decoder = new StringDecoder("utf8");
  transport.stderr?.on("data", (chunk: Buffer) => {
    buffer += decoder.write(chunk);
    const lines = buffer.split("\n");
    buffer = lines.pop() ?? "";
    for (const line of lines) if (line.trim()) onStderr(line.trimEnd());
  });
  transport.stderr?.on("end", () => {
    if (buffer.trim()) onStderr(buffer.trimEnd());
    buffer = "";
  });
  return transport;
}
