/**
 * The shape of a validated gateway.yaml. The JSON Schema (assembled in schema.ts) is the
 * formal definition; these types mirror it so compiled code reads typed values.
 */

import type { StrategyName } from '../pipeline/strategies.js';
import type { EventType } from '../events/events.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export type UpstreamAuth = 'passthrough' | { bearer: string } | { header: string; value: string };

/** A registered provider's name (providers/registry.ts): openai, openai_compatible, azure_openai, anthropic, mock. */
export type ProviderKind = string;

export interface UpstreamConfig {
  provider: ProviderKind;
  url?: string;
  auth?: UpstreamAuth;
  timeout?: string;
  connections?: number;
  proxy?: string;
  /** Only for provider: mock. */
  models?: string[];
  /** Only for provider: azure_openai. */
  api_version?: string;
  /** Only for provider: anthropic. */
  anthropic_version?: string;
}

export interface TargetConfig {
  upstream: string;
  model?: string;
  weight?: number;
}

/** Feature configs, keyed by feature name; each feature's file declares its own shape. */
export type FeaturesConfig = Record<string, unknown>;

/** One list item: a single-key map `{ <interceptor name>: <its config> }`. */
export type InterceptorItem = Record<string, unknown>;

/** A template variable: a text, or where each request's value comes from. */
export type PromptVariable = string | { header: string } | { body: string };

/** A prompt template (`prompts:`): `{{name}}` placeholders filled from `variables`. */
export interface PromptConfig {
  template: string;
  variables?: Record<string, PromptVariable>;
  description?: string;
}

export interface RouterConfig {
  aliases?: string[];
  strategy?: StrategyName;
  targets: TargetConfig[];
  features?: FeaturesConfig;
  interceptors?: InterceptorItem[];
}

export interface ServerConfig {
  listen?: string;
  admin?: string | false;
  max_body?: string;
  max_event?: string;
  timeouts?: { headers?: string; body?: string };
  drain?: string;
  /** The probe-only listener: /healthz and /readyz (for the kubelet). */
  health?: string;
  /** A listener serving only /metrics (for Prometheus from outside the pod). */
  metrics?: string;
  /** Peers whose X-Forwarded-For is believed (IPs or CIDRs). */
  trusted_proxies?: string[];
  /** A bearer token the admin listener requires (all but /healthz and /readyz). */
  admin_token?: string;
}

export interface StateConfig {
  backend: 'memory' | 'redis';
  /** One of `url` (a single server), `nodes` (a Redis Cluster) or `sentinels` + `name`. */
  redis?: { url?: string; nodes?: string[]; sentinels?: string[]; name?: string; password?: string; prefix?: string; timeout?: string };
}

/** A rate limit of a key or team: the feature's shape without `key`. */
export interface TenantRateLimit {
  requests: number;
  per: string;
  burst?: number;
  tokens?: number;
}

export interface TenantBudget {
  usd: number;
  period: 'day' | 'week' | 'month';
}

/** One caller of the gateway: stored as the sha256 of its key, never the key. */
export interface KeyConfig {
  name: string;
  sha256: string;
  team?: string;
  routers?: string[];
  rate_limit?: TenantRateLimit;
  budget?: TenantBudget;
  /** An ISO 8601 date or date-time from which the key is refused. */
  expires?: string;
  disabled?: boolean;
  labels?: Record<string, string>;
}

export interface AuthConfig {
  keys?: KeyConfig[];
  /** A second file holding a list of keys (a mounted Secret), watched like the config. */
  keys_file?: string;
}

export interface TeamConfig {
  budget?: TenantBudget;
  rate_limit?: TenantRateLimit;
  routers?: string[];
}

export interface LoggingConfig {
  level?: LogLevel;
  access?: boolean;
}


export interface TelemetryConfig {
  otlp: { url: string; headers?: Record<string, string>; protocol?: 'http/protobuf' | 'http/json'; timeout?: string };
  service_name?: string;
  sample?: number;
  metrics_interval?: string;
}

export interface WebhookConfig {
  url: string;
  secret: string;
  name?: string;
  events?: EventType[];
  timeout?: string;
  max_attempts?: number;
  backoff?: string;
  max_backoff?: string;
  max_queue?: number;
}

/**
 * One MCP server (`mcp_servers:`): streamable HTTP (`url`, `headers`) or a stdio child
 * process (`command`, `args`, `env`). Header and env values are secrets.
 */
export type McpServerConfig = { url: string; headers?: Record<string, string> } | { command: string; args?: string[]; env?: Record<string, string> };

export interface GatewayConfig {
  version: 1;
  server?: ServerConfig;
  logging?: LoggingConfig;
  state?: StateConfig;
  upstreams: Record<string, UpstreamConfig>;
  defaults?: { features?: FeaturesConfig; interceptors?: InterceptorItem[] };
  default_router?: string;
  routers: Record<string, RouterConfig>;
  prompts?: Record<string, PromptConfig>;
  /** USD per 1M tokens by model; merged over the shipped default table. */
  pricing?: Record<string, { input: number; output: number; cached_input?: number; cache_write?: number }>;
  /** OpenTelemetry export (traces and GenAI metrics over OTLP); absent: off, nothing loaded. */
  telemetry?: TelemetryConfig;
  webhooks?: WebhookConfig[];
  auth?: AuthConfig;
  teams?: Record<string, TeamConfig>;
  /** MCP servers by name, for the `mcp_tools` feature. */
  mcp_servers?: Record<string, McpServerConfig>;
}
