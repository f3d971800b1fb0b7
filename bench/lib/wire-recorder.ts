import { createConnection, createServer, type Socket } from "node:net";

/**
 * A recording TCP proxy for the NATS client protocol: services connect to it instead of the
 * nats-server, every byte is forwarded at once, and each protocol operation is recorded with
 * the time it passed the proxy. Used only by the profile scenario (it adds one local hop per
 * message, ~tens of µs), to list the round trips of a Baton step without touching its code.
 */
export interface WireOp {
  /** performance.now() when the chunk holding the operation reached the proxy. */
  readonly t: number;
  readonly conn: number;
  /** `out`: client → server; `in`: server → client. */
  readonly dir: "out" | "in";
  readonly verb: string;
  readonly subject: string;
  readonly reply: string;
  /** Header block (HPUB/HMSG), as text. */
  readonly headers: string;
  /** Payload (without headers), as text, cut at 64 KiB. */
  readonly payload: string;
}

export interface WireRecorder {
  readonly url: string;
  readonly ops: WireOp[];
  /** Connection id → the client's CONNECT name (Baton services send their instance id). */
  readonly names: Map<number, string>;
  /** Only ops seen while recording is on are kept. */
  recording: boolean;
  close(): Promise<void>;
}

const CRLF = Buffer.from("\r\n");

/** Incremental parser of one direction of a NATS connection. */
class ProtocolParser {
  #buf: Buffer = Buffer.alloc(0);
  readonly #emit: (verb: string, args: string[], headers: string, payload: string, line: string) => void;

  constructor(emit: (verb: string, args: string[], headers: string, payload: string, line: string) => void) {
    this.#emit = emit;
  }

  feed(chunk: Buffer): void {
    this.#buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const eol = this.#buf.indexOf(CRLF, off);
      if (eol < 0) break;
      const line = this.#buf.toString("latin1", off, eol);
      const space = line.indexOf(" ");
      const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
      if (verb === "PUB" || verb === "HPUB" || verb === "MSG" || verb === "HMSG") {
        const args = line
          .slice(space + 1)
          .split(" ")
          .filter(Boolean);
        const total = Number(args.at(-1));
        const headerBytes = verb.startsWith("H") ? Number(args.at(-2)) : 0;
        const end = eol + 2 + total;
        if (end + 2 > this.#buf.length) break; // wait for the rest of the payload
        const body = this.#buf.subarray(eol + 2, end);
        const headers = headerBytes > 0 ? body.toString("utf8", 0, headerBytes) : "";
        const payload = body.toString("utf8", headerBytes, Math.min(body.length, headerBytes + 65_536));
        this.#emit(verb, verb.startsWith("H") ? args.slice(0, -2) : args.slice(0, -1), headers, payload, line);
        off = end + 2;
      } else {
        this.#emit(verb, [], "", "", line);
        off = eol + 2;
      }
    }
    this.#buf = off >= this.#buf.length ? Buffer.alloc(0) : Buffer.from(this.#buf.subarray(off));
  }
}

/** Starts a proxy on a free local port in front of `upstreamUrl` (nats://host:port). */
export async function startWireRecorder(upstreamUrl: string): Promise<WireRecorder> {
  const upstream = new URL(upstreamUrl);
  const ops: WireOp[] = [];
  const names = new Map<number, string>();
  const sockets = new Set<Socket>();
  let nextConn = 0;
  const recorder: WireRecorder = {
    url: "",
    ops,
    names,
    recording: false,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((client) => {
    const conn = ++nextConn;
    client.setNoDelay(true);
    const nats = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    nats.setNoDelay(true);
    sockets.add(client).add(nats);
    const record = (dir: "out" | "in") => (verb: string, args: string[], headers: string, payload: string, line: string) => {
      if (verb === "CONNECT") {
        try {
          const name = (JSON.parse(line.slice(8)) as { name?: string }).name;
          if (name) names.set(conn, name);
        } catch {
          // not JSON: keep the connection unnamed
        }
        return;
      }
      if (!recorder.recording) return;
      if (verb !== "PUB" && verb !== "HPUB" && verb !== "MSG" && verb !== "HMSG") return;
      // PUB subject [reply] | MSG subject sid [reply]
      const subject = args[0] ?? "";
      const reply = (verb === "PUB" || verb === "HPUB" ? args[1] : args[2]) ?? "";
      ops.push({ t: now, conn, dir, verb, subject, reply, headers, payload });
    };
    let now = 0;
    const out = new ProtocolParser(record("out"));
    const inn = new ProtocolParser(record("in"));
    client.on("data", (chunk: Buffer) => {
      nats.write(chunk);
      now = performance.now();
      out.feed(chunk);
    });
    nats.on("data", (chunk: Buffer) => {
      client.write(chunk);
      now = performance.now();
      inn.feed(chunk);
    });
    const close = () => {
      client.destroy();
      nats.destroy();
      sockets.delete(client);
      sockets.delete(nats);
    };
    client.on("error", close).on("close", close);
    nats.on("error", close).on("close", close);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return Object.assign(recorder, { url: `nats://127.0.0.1:${port}` });
}
