import { Agent, request } from "node:http";
import type { Driver } from "../lib/drivers.ts";
import type { Shape } from "../lib/plans.ts";
import { type ChainInput, expectedResult, type FanoutInput, type StepOutput } from "./protocol.ts";

/** Longest time one task may take before the driver gives up, in ms. */
const TASK_TIMEOUT_MS = 60_000;

/** The handler and input of each task shape. */
function callFor(shape: Shape): { handler: "chain" | "fanout"; size: number; body: string } {
  if (shape === "fanout16") return { handler: "fanout", size: 16, body: JSON.stringify({ width: 16 } satisfies FanoutInput) };
  const steps = shape === "chain1" ? 1 : 3;
  return { handler: "chain", size: steps, body: JSON.stringify({ steps } satisfies ChainInput) };
}

/**
 * A Restate client: one request-response call to the ingress per task,
 * `POST http://127.0.0.1:<ingress>/<service>/<handler>`, over HTTP/1.1 keep-alive connections
 * (`node:http`; one per task in flight). The latency runs from just before the request to the
 * end of the response — the analogue of Baton's submit-to-outcome. Every response's result is
 * checked against the expected one (after taking the time).
 */
export class RestateDriver implements Driver {
  readonly name: string;
  detail = false;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 256 });
  readonly #host: string;
  readonly #port: number;
  readonly #service: string;

  constructor(ingressUrl: string, service: string) {
    const url = new URL(ingressUrl);
    this.name = `restate ${service}`;
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#service = service;
  }

  async run(shape: Shape): Promise<number> {
    const call = callFor(shape);
    const started = performance.now();
    const { at, status, body } = await this.#post(`/${this.#service}/${call.handler}`, call.body);
    if (status !== 200) throw new Error(`Restate ${this.#service}/${call.handler}: HTTP ${status}: ${body.slice(0, 600)}`);
    const result = (JSON.parse(body) as StepOutput).result;
    const expected = expectedResult(call.handler, call.size);
    if (result !== expected) throw new Error(`Restate ${this.#service}/${call.handler}: result ${result}, expected ${expected}`);
    return at - started;
  }

  /** One call without timing or checks (readiness probes); resolves with the HTTP status and body. */
  async probe(shape: Shape): Promise<{ status: number; body: string }> {
    const call = callFor(shape);
    return this.#post(`/${this.#service}/${call.handler}`, call.body);
  }

  #post(path: string, body: string): Promise<{ at: number; status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent: this.#agent,
          host: this.#host,
          port: this.#port,
          method: "POST",
          path,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          timeout: TASK_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.once("end", () =>
            resolve({ at: performance.now(), status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
          );
          res.once("error", reject);
        },
      );
      req.once("timeout", () => req.destroy(new Error(`no response to POST ${path} within ${TASK_TIMEOUT_MS} ms`)));
      req.once("error", reject);
      req.end(body);
    });
  }

  async close(): Promise<void> {
    this.#agent.destroy();
  }
}
