import type { Readable } from 'node:stream';
import type { ApiFormat } from '../formats/format.js';
import type { RequestContext } from '../pipeline/context.js';
import type { UpstreamConfig } from '../config/types.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { Attempt } from '../pipeline/stage.js';

/** Response headers as undici and node:http give them: lower-case names. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** The head of an answer, as response stages see and edit it (from an upstream, a cache, a stage). */
export interface ResponseHead {
  status: number;
  headers: HeaderMap;
}

/** What an upstream answered: status and headers now, the body as it arrives. */
export interface UpstreamResponse extends ResponseHead {
  /** The body: a stream that the gateway forwards with backpressure. */
  body: Readable;
  /** Milliseconds from the call until the response headers arrived. */
  headersMs: number;
  /** The target that answered (set by the gateway, not by providers). */
  target?: CompiledTarget;
  /** The upstream's own id for this request (OpenAI's `x-request-id`, Anthropic's `request-id`), when it sent one. */
  requestId?: string;
}

/** A provider's wire format; `any` answers every caller in the caller's own format (the mock). */
export type ProviderFormat = ApiFormat | 'any';

/**
 * A provider sends one request to one upstream. The gateway ships the modules in
 * providers/registry.ts; library users can register their own factories (seed 002's
 * Provider interface). Built once per upstream at compile time.
 */
export interface Provider {
  readonly upstream: string;
  /**
   * The wire format the upstream speaks (default `openai`). When the caller speaks another
   * (ctx.format), the provider translates the request and the answer (src/translate); it
   * owns its format. A provider whose `send` does not translate should only serve callers
   * of its own format.
   */
  readonly format?: ProviderFormat;
  /**
   * Sends the request in `ctx` (method, upstreamPath, body, headers) to this upstream for
   * `attempt` (model rewrite already applied to ctx.body). Serializes the body before its
   * first await (concurrent attempts share ctx). Rejects with a GatewayError or an error
   * carrying a stable `code`; `attempt.signal` aborts the call.
   */
  send(ctx: RequestContext, attempt: Attempt): Promise<UpstreamResponse>;
  /**
   * A JSON request the gateway makes on its own behalf (embeddings for the semantic
   * features), with the upstream's own credential (none for passthrough): POST `path`,
   * the parsed answer back. Bounded in time by `signal` and in size by the provider.
   */
  fetchJson?(path: string, body: unknown, signal: AbortSignal): Promise<{ status: number; body: unknown }>;
  /** An active health probe: the status of `GET path`, or a rejection. */
  probe?(path: string, timeoutMs: number): Promise<number>;
  /** Closes pools and sockets; called once the pipeline that built it has drained. */
  close(): Promise<void>;
}

export interface ProviderFactoryDeps {
  readonly name: string;
  /**
   * Connect timeout for the upstream's pool, ms: the smallest `timeout.connect` of the
   * routers that use it (undici sets it per pool, not per request); null for undici's default.
   */
  readonly connectTimeoutMs: number | null;
  /** The upstream's `timeout` in ms (its default applied). */
  readonly timeoutMs: number;
  /** The upstream's `connections` (its default applied). */
  readonly connections: number;
}

export type ProviderFactory = (config: UpstreamConfig, deps: ProviderFactoryDeps) => Provider;

/**
 * A built-in provider: one file in src/providers/, one line in the registry. It declares
 * everything about its upstream: the wire format, the default URL, the config keys only it
 * reads (its schema fragment) and how to build the Provider that sends requests.
 */
export interface ProviderModule {
  /** The `provider:` value that selects it. */
  readonly name: string;
  readonly format: ProviderFormat;
  /** One phrase for the `provider` description, e.g. "Anthropic's Messages API (api.anthropic.com)". */
  readonly summary: string;
  /** The base URL when `url` is not set; null when `url` is required (or, in process, unused). */
  readonly defaultUrl: string | null;
  /** Answers in process: needs no `url`. */
  readonly inProcess: boolean;
  /** Upstream keys only this provider reads, with their JSON Schema (each with a `description`). */
  readonly keys: Readonly<Record<string, Record<string, unknown>>>;
  readonly create: ProviderFactory;
}
