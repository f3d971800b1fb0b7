/**
 * The part of `@restatedev/restate-sdk` the bench's Restate services use, loaded at run time from
 * the peer cache (bench/restate/install.ts): the SDK is not a dependency of the repository, so it
 * is imported by absolute file URL (env BENCH_RESTATE_SDK, set by bench/restate/stack.ts) and
 * typed here by hand.
 */
import { createServer, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import { pathToFileURL } from "node:url";

/** A journaled promise; only these can be combined with `RestatePromise.all`. */
export type RestatePromise<T> = Promise<T> & { readonly map: unknown };

export interface RestateContext {
  /** Runs `action` once and journals its result (awaits the server's acknowledgement). */
  run<T>(name: string, action: () => T | Promise<T>): RestatePromise<T>;
  /** A client whose methods call the named service's handlers through Restate (journaled calls); its type is the caller's to state. */
  serviceClient(definition: { readonly name: string }): unknown;
}

/** A service handler: its input is the JSON body of the request (`never` here so any input type fits). */
export type Handler = (ctx: RestateContext, input: never) => Promise<unknown>;

/** An opaque service definition, as returned by `service()`. */
export interface ServiceDefinition {
  readonly name: string;
}

export interface RestateSdk {
  service(definition: { name: string; handlers: Record<string, Handler> }): ServiceDefinition;
  createEndpointHandler(options: { services: ServiceDefinition[] }): (request: Http2ServerRequest, response: Http2ServerResponse) => void;
  readonly RestatePromise: {
    all<T>(values: readonly RestatePromise<T>[]): RestatePromise<T[]>;
  };
}

/** Imports the SDK from the path in BENCH_RESTATE_SDK. */
export async function loadSdk(): Promise<RestateSdk> {
  const entry = process.env.BENCH_RESTATE_SDK;
  if (!entry) throw new Error("BENCH_RESTATE_SDK is not set (the absolute path of @restatedev/restate-sdk's dist/index.js)");
  return (await import(pathToFileURL(entry).href)) as RestateSdk;
}

/**
 * Serves `services` over HTTP/2 cleartext (what restate-server speaks to deployments) on
 * 127.0.0.1:PORT, and closes on SIGTERM.
 */
export async function serveServices(sdk: RestateSdk, services: ServiceDefinition[]): Promise<void> {
  const port = Number(process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) throw new Error("PORT must be set to the port to listen on");
  const server = createServer(sdk.createEndpointHandler({ services }));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  process.once("SIGTERM", () => {
    server.close();
    process.exit(0);
  });
}
