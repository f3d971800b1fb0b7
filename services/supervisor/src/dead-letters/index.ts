import { DEAD_LETTER_CONSUMER } from "@baton/contracts";
import { ConsumerLoop, type ServiceContext } from "@baton/core";
import { jetstreamManager } from "@nats-io/jetstream";
import { type DeadLetterDeps, handleAdvisory } from "./handler.ts";

export { type DeadLetterDeps, handleAdvisory } from "./handler.ts";
export { classifyDeadLetter, type DeadLetterKind } from "./classify.ts";
export { copyHeaders, type DeadLetter, deadLetterMsgId, moveToDeadLetterQueue } from "./move.ts";
export { deadLetteredError, reportDeadLetter } from "./report.ts";

/** A running dead-letter handler. */
export interface DeadLetterHandler {
  /** Stops pulling advisories; waits up to `graceMs` for the ones in hand. */
  stop(graceMs: number): Promise<void>;
}

/**
 * Starts the dead-letter handler: consumes the MAX_DELIVERIES advisories captured in
 * BATON_ADVISORIES (durable `dead-letter-handler`, shared by every supervisor replica) and moves
 * each message a consumer gave up on to BATON_DLQ, then reports it (a failed step result for
 * work, `tasks.rejected` for a submission, the task failed for a synthesis request, an error log
 * line otherwise).
 */
export async function startDeadLetterHandler(
  service: ServiceContext,
  options: Pick<DeadLetterDeps, "audit" | "failSynthesis"> & { concurrency?: number } = {},
): Promise<DeadLetterHandler> {
  const jsm = await jetstreamManager(service.nc);
  const logger = service.logger.child({ component: "dead-letters" });
  const deps: DeadLetterDeps = {
    js: service.js,
    jsm,
    logger,
    instanceId: service.instanceId,
    ...(options.audit ? { audit: options.audit } : {}),
    ...(options.failSynthesis ? { failSynthesis: options.failSynthesis } : {}),
  };
  const loop = new ConsumerLoop(
    service.js,
    {
      spec: DEAD_LETTER_CONSUMER,
      concurrency: options.concurrency ?? 2,
      template: "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.{consumer}",
      logger,
    },
    (msg) => handleAdvisory(deps, msg),
  );
  loop.start();
  logger.info("dead-letter handler ready");
  return { stop: (graceMs) => loop.stop(graceMs) };
}
