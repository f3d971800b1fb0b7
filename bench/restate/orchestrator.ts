/**
 * The Restate peer's orchestrator service (shape `restate-services`): each step is a call to the
 * worker service — another Node process — through Restate (`ctx.serviceClient(…).step(…)`, a
 * journaled request-response call). Chains await the calls in sequence; the fan-out starts 16 and
 * awaits them with `RestatePromise.all`, then calls the dependent step.
 */
import {
  type AllOf,
  chain,
  type ChainInput,
  fanout,
  type FanoutInput,
  RESTATE_SERVICES,
  type StepInput,
  type StepOutput,
} from "./protocol.ts";
import { loadSdk, type RestateContext, type RestatePromise, serveServices } from "./sdk.ts";

interface WorkerClient {
  step(input: StepInput): RestatePromise<StepOutput>;
}

const sdk = await loadSdk();
/** Returns the SDK's promise itself (not wrapped by an async function), so that `RestatePromise.all` can combine it. */
const callWorker = (ctx: RestateContext) => {
  const worker = ctx.serviceClient({ name: RESTATE_SERVICES.worker }) as WorkerClient;
  return (_name: string, input: StepInput) => worker.step(input);
};
const all: AllOf = (steps) => sdk.RestatePromise.all(steps as RestatePromise<StepOutput>[]);
const orchestrator = sdk.service({
  name: RESTATE_SERVICES.orchestrator,
  handlers: {
    chain: (ctx, input: ChainInput) => chain(callWorker(ctx), input),
    fanout: (ctx, input: FanoutInput) => fanout(callWorker(ctx), all, input),
  },
});
await serveServices(sdk, [orchestrator]);
