/**
 * sidegate as a library: `createGateway()` builds the engine from a config file, inline
 * YAML or a config object; mount `gateway.handler` in any Node HTTP server, or call
 * `gateway.listen()`. Hooks (the Stage interface) and custom providers plug in here.
 */
export { createGateway, Gateway } from './gateway.js';
export type { Addresses, ConfigSource, GatewayOptions, ListenOverrides, ReloadResult } from './gateway.js';
export { GatewayError, ERROR_CODES } from './errors.js';
export type { ErrorCode, OpenAIErrorType } from './errors.js';
export type { ChunkResult, LocalReply, SseEvent, Stage, StageResult, UpstreamCall } from './pipeline/stage.js';
export { slot, Slot } from './pipeline/slot.js';
export { STAGE_ORDER } from './pipeline/order.js';
export type { ApiFormat } from './formats/format.js';
export type { RequestContext } from './pipeline/context.js';
export type { HeaderMap, Provider, ProviderFactory, ResponseHead, UpstreamResponse } from './providers/provider.js';
export type { GatewayConfig } from './config/types.js';
export { ConfigError, loadConfigFile, loadConfigText } from './config/load.js';
export type { ConfigIssue, LoadedConfig } from './config/load.js';
export { explainPipeline } from './pipeline/compile.js';
export type { StateStore, StateHealth, BucketSpec, BucketResult, CacheEntry, CacheSpace } from './state/store.js';
export type { InjectRequest, InjectedResponse } from './server/inject.js';
export { EVENT_TYPES } from './events/events.js';
export type { EventData, EventSink, EventType, GatewayEvent } from './events/events.js';
