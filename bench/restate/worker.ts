/**
 * The Restate peer's worker service (shape `restate-services`), in its own Node process: one
 * handler, `step`, doing the zero-latency work (adding the numbers it is given).
 */
import { RESTATE_SERVICES, runStep, type StepInput, type StepOutput } from "./protocol.ts";
import { loadSdk, serveServices } from "./sdk.ts";

const sdk = await loadSdk();
const worker = sdk.service({
  name: RESTATE_SERVICES.worker,
  handlers: {
    step: async (_ctx, input: StepInput): Promise<StepOutput> => runStep(input),
  },
});
await serveServices(sdk, [worker]);
