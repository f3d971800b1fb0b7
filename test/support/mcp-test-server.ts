/**
 * A small MCP server for the MCP tests, written with the official SDK's McpServer and run as a
 * child process over stdio: `node test/support/mcp-test-server.ts`. Its tools:
 * - `echo { text }` → text `echo: <text>`;
 * - `whoami {}` → structured `{ pid, marker, home }` (marker: MCP_TEST_MARKER, home: HOME — to see
 *   what environment reached it; it has an output schema);
 * - `add_tool { name }` → registers a tool `name` (an echo) at run time; the SDK then sends
 *   `notifications/tools/list_changed`;
 * - `remove_tool { name }` → removes a tool added with `add_tool` (list_changed again);
 * - `fail { message }` → an `isError` result with `message`;
 * - `slow { ms }` → text `slept <ms>` after `ms` milliseconds;
 * - `crash {}` → the process exits with code 3 without answering.
 * Writes `mcp-test-server ready <pid>` to stderr once connected.
 */
import { McpServer, type RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";

const server = new McpServer({ name: "baton-mcp-test-server", version: "1.0.0" });
const added = new Map<string, RegisteredTool>();

server.registerTool(
  "echo",
  { description: "Echoes the text back.", inputSchema: { text: z.string().describe("What to echo") } },
  async ({ text }) => ({ content: [{ type: "text", text: `echo: ${text}` }] }),
);

server.registerTool(
  "whoami",
  {
    description: "The server's process id and what it sees of its environment.",
    inputSchema: {},
    outputSchema: { pid: z.number(), marker: z.string().nullable(), home: z.string().nullable() },
  },
  async () => {
    const structuredContent = { pid: process.pid, marker: process.env.MCP_TEST_MARKER ?? null, home: process.env.HOME ?? null };
    return { content: [{ type: "text", text: JSON.stringify(structuredContent) }], structuredContent };
  },
);

server.registerTool(
  "add_tool",
  { description: "Registers another tool (an echo) under the given name.", inputSchema: { name: z.string().min(1) } },
  async ({ name }) => {
    if (!added.has(name)) {
      added.set(
        name,
        server.registerTool(
          name,
          { description: `Added at run time: echoes with the prefix ${name}.`, inputSchema: { text: z.string() } },
          async ({ text }) => ({ content: [{ type: "text", text: `${name}: ${text}` }] }),
        ),
      );
    }
    return { content: [{ type: "text", text: `added ${name}` }] };
  },
);

server.registerTool(
  "remove_tool",
  { description: "Removes a tool added with add_tool.", inputSchema: { name: z.string().min(1) } },
  async ({ name }) => {
    added.get(name)?.remove();
    added.delete(name);
    return { content: [{ type: "text", text: `removed ${name}` }] };
  },
);

server.registerTool(
  "fail",
  { description: "Reports a tool error with the given message.", inputSchema: { message: z.string() } },
  async ({ message }) => ({ content: [{ type: "text", text: message }], isError: true }),
);

server.registerTool(
  "slow",
  { description: "Answers after the given number of milliseconds.", inputSchema: { ms: z.number().int().min(0).max(60_000) } },
  async ({ ms }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { content: [{ type: "text", text: `slept ${ms}` }] };
  },
);

server.registerTool("crash", { description: "Makes the server process exit (code 3) without answering.", inputSchema: {} }, async () => {
  process.stderr.write("mcp-test-server crashing on request\n");
  process.exit(3);
});

await server.connect(new StdioServerTransport());
process.stderr.write(`mcp-test-server ready ${process.pid}\n`);
