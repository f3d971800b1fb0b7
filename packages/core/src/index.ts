/**
 * @baton/core — what every Baton service shares: configuration, the error taxonomy, logging,
 * tracing, the NATS connection, stream/consumer provisioning, typed publish and consume with
 * validation, lifecycle events, graceful shutdown, and a local nats-server launcher.
 */
export { backoffDelayMs, sleep } from "./backoff.ts";
export { type Decoded, decodeJson, encodeJson } from "./codec.ts";
export { BaseServiceEnv, envBoolean, envPositiveInt, loadConfig } from "./config.ts";
export { ConsumerLoop, type ConsumerLoopOptions, type MessageHandler } from "./consumer-loop.ts";
export {
  BatonError,
  ConfigError,
  isRetryable,
  redactErrorInfo,
  RetryLaterError,
  toErrorInfo,
  TransientError,
  ValidationError,
} from "./errors.ts";
export { isSecretKey, REDACTED, redact, redactString } from "./redact.ts";
export { publishTaskEvent, type TaskEventInput, type TaskEventOptions } from "./events.ts";
export {
  freePort,
  type LocalNatsOptions,
  type LocalNatsServer,
  natsServerAvailable,
  startLocalNatsServer,
} from "./local-nats.ts";
export { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
export {
  type ConnectOptions,
  ConnectionWatch,
  connectionOf,
  connectionWatch,
  connectNats,
  FRESH_DELIVERY_MS,
  isBrokerUnavailable,
  isFreshDelivery,
  type NatsConnection,
  RECONNECT_SETTLE_MS,
  retryWhileUnavailable,
  type RetryWhileUnavailableOptions,
  unlessDisconnected,
} from "./nats.ts";
export { PerKeyQueue } from "./per-key-queue.ts";
export {
  type BatonDeployment,
  credentialsIdentity,
  credentialsUser,
  deploymentUsers,
  ensureDeployment,
  mintCredentials,
  natsServerAuthConfig,
  writeCredentials,
} from "./auth.ts";
export { awaitProvisioning, ensureConsumer, ensureStream, openKv, provisionAll, streamConfig } from "./provision.ts";
export { type PublishOptions, publishMessage } from "./publish.ts";
export { runMain, type ServiceContext, type StartServiceOptions, startService } from "./service.ts";
export {
  contextFromCarrier,
  currentTraceCarrier,
  extractTraceContext,
  failSpan,
  initTracing,
  injectTraceHeaders,
  SpanKind,
  type Tracing,
  type TracingOptions,
} from "./tracing.ts";
export { type DispatchStanding, dispatchStanding, isTaskEnded, TaskStore, type Versioned } from "./task-store.ts";
export { type BudgetGuard, BudgetLedgers, exceededReason, hasBudget, type Spend } from "./budget-ledger.ts";
export { isWrongSequence } from "./kv-cas.ts";
export { KvEffectLedger } from "./effect-ledger.ts";
export { outcomeStored } from "./outcomes.ts";
export { AgentRegistry, type AgentRegistryOptions, type RegisteredAgent } from "./agent-registry.ts";
export { compileJsonSchema, type JsonSchemaCheck, jsonSchemaErrorPath } from "./json-schema.ts";
