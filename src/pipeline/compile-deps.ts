import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { Pricing } from '../pricing.js';
import type { ClientIp } from '../server/client-ip.js';
import type { StateStore } from '../state/store.js';
import type { EventSink } from '../events/events.js';
import type { CompiledTarget } from './compiled.js';
import type { Embedders } from '../embeddings/create.js';
import type { Inject } from '../server/inject.js';
import type { PromptConfig } from '../config/types.js';
import type { McpServers } from '../mcp/servers.js';

/** What a feature or interceptor may use when it is built (at compile time only). */
export interface CompileDeps {
  readonly routerName: string;
  /** The router's targets, in config order. */
  readonly targets: readonly CompiledTarget[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The gateway's state store (memory or redis): counters and caches that outlive reloads. */
  readonly state: StateStore;
  /** The clock, epoch milliseconds (GatewayOptions.now; Date.now by default). */
  readonly now: () => number;
  /** Token prices: the shipped table with the config's `pricing:` over it. */
  readonly pricing: Pricing;
  /** The client's address of a request, honouring `server.trusted_proxies`. */
  readonly clientIp: ClientIp;
  /**
   * A short hash of what the router sends where (its targets): cached answers are keyed
   * by it, so changing a router's targets never serves the old targets' answers.
   */
  readonly routerFingerprint: string;
  /** The exports of a module a `custom` interceptor names (loaded before compiling; see hook-modules.ts). */
  readonly hookModule: (spec: string) => unknown;
  /** The pipeline's embedders (`embedder: local` or `{ upstream, model }`), shared by every feature naming the same one. */
  readonly embedders: Embedders;
  /**
   * Sends a request through the gateway's own pipeline, in process (a summary from a named
   * router, cache warming). Only for use at request time, never while compiling.
   */
  readonly inject: Inject;
  /** Every router of the config, by name (for features that name another router). */
  readonly routerNames: ReadonlySet<string>;
  /** The config's `prompts:` templates, by name. */
  readonly prompts: Readonly<Record<string, PromptConfig>>;
  /** Where to report what happened (circuit opened, budget threshold, key expired…): the gateway's webhooks. */
  readonly events: EventSink;
  /** The pipeline's MCP server connections (`mcp_servers:`), one per server, shared by every router naming it. */
  readonly mcp: McpServers;
}
