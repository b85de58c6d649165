import type { LoadedConfig } from '../config/load.js';
import type { Pricing } from '../pricing.js';
import type { Provider } from '../providers/provider.js';
import type { RouterMetrics } from '../observability/metrics.js';
import type { PipelineTelemetry } from '../observability/telemetry.js';
import type { Phases } from './phases.js';
import type { Stage, UpstreamCall } from './stage.js';
import type { Strategy } from './strategies.js';
import type { RequestContext } from './context.js';
import type { Tenancy } from '../tenancy/tenancy.js';
import type { ServerLimits } from '../server/limits.js';
import type { ModelLabels } from '../observability/model-labels.js';
import type { KnownBodies } from './known-bodies.js';

/** An upstream as compiled: its provider (with its pool) and its credential, if injected. */
export interface CompiledUpstream {
  readonly name: string;
  readonly provider: Provider;
  /** Absolute base URL for WebSocket pass-through, or null for in-process providers. */
  readonly wsOrigin: string | null;
  /** `[header, value]` to inject, or null to forward the caller's credential. */
  readonly credential: readonly [string, string] | null;
  /** Where its calls go, for `sidegate explain`: `in process`, or the base URL (credentials redacted). */
  readonly where: string;
}

export interface CompiledTarget {
  readonly index: number;
  readonly upstream: CompiledUpstream;
  /** The model to send upstream, or null to pass the caller's model through. */
  readonly model: string | null;
  readonly weight: number;
}

export interface CompiledRouter {
  readonly name: string;
  readonly aliases: readonly string[];
  readonly targets: readonly CompiledTarget[];
  /** Picks the target for a request (strategy). */
  /**
   * The targets a request may try, in order: the strategy's order, then every
   * `filterTargets` stage (health…). Null for a WebSocket upgrade, which has no context.
   */
  readonly candidates: (ctx: RequestContext | null) => readonly CompiledTarget[];
  /** Feeds each try's time to headers back to the strategy (latency_based), or null. */
  readonly observe: ((target: CompiledTarget, ms: number, failed: boolean) => void) | null;
  readonly strategy: Strategy;
  /** Every stage of the router, in order (for /stats sections and explain). */
  readonly stages: readonly Stage[];
  readonly phases: Phases;
  /** The upstream call with every wrapping stage (retry, timeouts…) composed around it. */
  readonly call: UpstreamCall;
  readonly metrics: RouterMetrics;
  /** Human-readable lines for `sidegate explain`. */
  readonly explain: readonly string[];
}

/** The immutable result of compiling one config. A request keeps the one it started on. */
export interface Pipeline {
  readonly loaded: LoadedConfig;
  /** Short config version: the first 12 hex digits of the file's sha256. */
  readonly version: string;
  readonly compiledAt: Date;
  readonly compileMs: number;
  readonly routers: ReadonlyMap<string, CompiledRouter>;
  /** Router by name or alias, as a body's `model` selects it. */
  readonly byModel: ReadonlyMap<string, CompiledRouter>;
  readonly defaultRouter: CompiledRouter | null;
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>;
  readonly maxBody: number;
  /** JSON bodies seen recently, so that one sent again is routed without parsing it; null when no router has a response cache. */
  readonly knownBodies: KnownBodies | null;
  /** server.max_event and server.timeouts, parsed. */
  readonly limits: ServerLimits;
  /** Bounded `model` label values for metrics. */
  readonly modelLabels: ModelLabels;
  /** Token prices: the shipped table with the config's `pricing:` over it. */
  readonly pricing: Pricing;
  readonly accessLog: boolean;
  /** OpenTelemetry for this config's requests, or null when `telemetry` is not configured. */
  readonly telemetry: PipelineTelemetry | null;
  /** Keys, teams and their limits (`auth`), or null when the config has no tenancy. */
  readonly tenancy: Tenancy | null;
  /** The sha256 of `server.admin_token`, or null when the admin listener needs none. */
  readonly adminToken: Buffer | null;
  /** The one mutable part: requests still running on this pipeline, and whether it was replaced. */
  readonly lease: PipelineLease;
}

export interface PipelineLease {
  inflight: number;
  retired: boolean;
}
