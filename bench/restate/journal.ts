/**
 * The Restate peer's journaled service (shape `restate-journal`): each step is a `ctx.run` in the
 * handler itself — run once, its result journaled by restate-server before the handler goes on.
 * Chains await the runs in sequence; the fan-out starts 16 runs and awaits them with
 * `RestatePromise.all`, then runs the dependent step.
 */
import {
  type AllOf,
  chain,
  type ChainInput,
  fanout,
  type FanoutInput,
  RESTATE_SERVICES,
  runStep,
  type StepInput,
  type StepOutput,
} from "./protocol.ts";
import { loadSdk, type RestateContext, type RestatePromise, serveServices } from "./sdk.ts";

const sdk = await loadSdk();
/** Returns the SDK's promise itself (not wrapped by an async function), so that `RestatePromise.all` can combine it. */
const journaled = (ctx: RestateContext) => (name: string, input: StepInput) => ctx.run(name, () => runStep(input));
const all: AllOf = (steps) => sdk.RestatePromise.all(steps as RestatePromise<StepOutput>[]);
const journal = sdk.service({
  name: RESTATE_SERVICES.journal,
  handlers: {
    chain: (ctx, input: ChainInput) => chain(journaled(ctx), input),
    fanout: (ctx, input: FanoutInput) => fanout(journaled(ctx), all, input),
  },
});
await serveServices(sdk, [journal]);
