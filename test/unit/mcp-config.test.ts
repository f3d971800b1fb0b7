import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  loadMcpConfig,
  McpConfigError,
  McpServersConfig,
  mcpServersConfigSchema,
  mcpTools,
  parseMcpConfig,
  substituteEnv,
} from "@baton/mcp";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";

const dir = mkdtempSync(join(tmpdir(), "baton-mcp-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes `value` as JSON to a fresh file and returns its path. */
function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === "string" ? value : JSON.stringify(value));
  return path;
}

const read = { riskTier: "read", idempotent: true } as const;

describe("substituteEnv", () => {
  it("replaces ${VAR} in every string, leaves keys and other values, and keeps $${ as a literal", () => {
    const value = {
      a: "Bearer ${TOKEN}",
      list: ["${DIR}/x", 3, true, null],
      nested: { "${KEY}": "${DIR}${DIR}" },
      literal: "cost $${NOT_A_VAR} and $5",
    };
    expect(substituteEnv(value, { TOKEN: "t0k", DIR: "/d", KEY: "k" })).toEqual({
      a: "Bearer t0k",
      list: ["/d/x", 3, true, null],
      nested: { "${KEY}": "/d/d" },
      literal: "cost ${NOT_A_VAR} and $5",
    });
  });

  it("names the unset variable and where it is used", () => {
    expect(() => substituteEnv({ servers: { api: { headers: { Authorization: "Bearer ${API_TOKEN}" } } } }, {})).toThrow(
      "servers.api.headers.Authorization: environment variable API_TOKEN is not set",
    );
    // An empty value counts as set.
    expect(substituteEnv("x${EMPTY}y", { EMPTY: "" })).toBe("xy");
  });
});

describe("loadMcpConfig", () => {
  it("reads, substitutes and validates a config, applying defaults", async () => {
    const path = file("ok.json", {
      servers: {
        fs: { command: "node", args: ["server.js", "${FILES_DIR}"], env: { KEY: "${SECRET}" }, tools: { read_file: read } },
        api: { url: "http://127.0.0.1:3001/mcp", headers: { Authorization: "Bearer ${TOKEN}" } },
      },
    });
    const config = await loadMcpConfig(path, { env: { FILES_DIR: "/srv/files", SECRET: "s", TOKEN: "t" } });
    expect(config.servers.fs).toEqual({
      command: "node",
      args: ["server.js", "/srv/files"],
      env: { KEY: "s" },
      restart: { initialDelayMs: 500, maxDelayMs: 30_000 },
      tools: { read_file: { riskTier: "read", idempotent: true } },
    });
    expect(config.servers.api?.headers).toEqual({ Authorization: "Bearer t" });
    expect(config.servers.api?.tools).toEqual({});
  });

  it("reports an unreadable file, bad JSON and an unset variable, naming the file", async () => {
    await expect(loadMcpConfig(join(dir, "absent.json"))).rejects.toThrow(/absent\.json: cannot read it/);
    await expect(loadMcpConfig(file("bad.json", "{ not json"))).rejects.toThrow(/bad\.json: not valid JSON/);
    const unset = loadMcpConfig(file("unset.json", { servers: { fs: { command: "${MCP_CMD}", tools: {} } } }), { env: {} });
    await expect(unset).rejects.toBeInstanceOf(McpConfigError);
    await expect(unset).rejects.toThrow(/unset\.json: servers\.fs\.command: environment variable MCP_CMD is not set/);
  });

  it("names every failing field by its path", async () => {
    const path = file("invalid.json", {
      servers: {
        Bad_Id: { command: "x" },
        both: { command: "x", url: "http://h/mcp" },
        neither: {},
        http: { url: "ftp://h/mcp", args: ["a"] },
        tools: {
          command: "x",
          tools: { t: { riskTier: "read" }, u: { riskTier: "dangerous", idempotent: true }, v: { ...read, typo: 1 } },
        },
        slow: { command: "x", restart: { initialDelayMs: 1_000, maxDelayMs: 10 } },
      },
    });
    const error = await loadMcpConfig(path, { env: {} }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(McpConfigError);
    const message = (error as Error).message;
    expect(message).toContain("invalid MCP config");
    expect(message).toContain("servers.Bad_Id: invalid key: must be 1-32 characters");
    expect(message).toContain('servers.both: needs exactly one of "command" (stdio) and "url" (Streamable HTTP)');
    expect(message).toContain("servers.neither: needs exactly one of");
    expect(message).toContain("servers.http.url: must be an http:// or https:// URL");
    expect(message).toContain("servers.tools.tools.t.idempotent:");
    expect(message).toContain("servers.tools.tools.u.riskTier:");
    expect(message).toContain('servers.tools.tools.v: Unrecognized key: "typo"');
    expect(message).toContain("servers.slow.restart.maxDelayMs: maxDelayMs must be at least initialDelayMs");
  });

  it("requires a name for MCP tool names that are not valid Baton tool names", () => {
    expect(() => parseMcpConfig({ servers: { a: { command: "x", tools: { "files.read": read } } } })).toThrow(
      /servers\.a\.tools\.files\.read: "files\.read" is not a valid Baton tool name .*set "name"/,
    );
    const ok = parseMcpConfig({ servers: { a: { command: "x", tools: { "files.read": { ...read, name: "files_read" } } } } });
    expect(ok.servers.a?.tools["files.read"]?.name).toBe("files_read");
  });

  it("refuses two servers exposing the same tool name, naming both", () => {
    expect(() =>
      parseMcpConfig({
        servers: {
          one: { command: "x", tools: { search: read } },
          two: { url: "http://127.0.0.1:1/mcp", tools: { find: { ...read, name: "search" } } },
        },
      }),
    ).toThrow(/tool name "search" is exposed twice: by servers\.one\.tools\.search and by servers\.two\.tools\.find/);
  });

  it("checks extended schemas (an agent section) with the same server rules", () => {
    const schema = mcpServersConfigSchema({ agent: z.object({ name: z.string().min(1) }) });
    const parsed = parseMcpConfig({ agent: { name: "files" }, servers: { fs: { command: "x" } } }, { schema });
    expect(parsed.agent.name).toBe("files");
    expect(() => parseMcpConfig({ agent: { name: "" }, servers: {} }, { schema })).toThrow(/agent\.name/);
    expect(McpServersConfig.safeParse({ servers: {}, agent: {} }).success).toBe(false);
  });

  it("mcpTools validates a config passed directly, before starting anything", async () => {
    await expect(mcpTools({ servers: { a: { command: "x", tools: { t: { riskTier: "read" } } } } } as never)).rejects.toThrow(
      /servers\.a\.tools\.t\.idempotent/,
    );
  });
});
