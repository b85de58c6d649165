import type { Readable } from 'node:stream';
import type { RequestContext } from '../pipeline/context.js';
import type { UpstreamConfig } from '../config/types.js';
import type { CompiledTarget } from '../pipeline/compiled.js';

/** Response headers as undici and node:http give them: lower-case names. */
export type HeaderMap = Record<string, string | string[] | undefined>;

/** What an upstream answered: status and headers now, the body as it arrives. */
export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  /** The body: a stream that the gateway forwards with backpressure. */
  body: Readable;
  /** Milliseconds from the call until the response headers arrived. */
  headersMs: number;
}

/**
 * A provider sends one request to one upstream. The gateway ships `openai`,
 * `openai_compatible` and `mock`; library users can register their own (seed 002's
 * Provider interface). Built once per upstream at compile time.
 */
export interface Provider {
  readonly upstream: string;
  /**
   * Sends the request in `ctx` (method, upstreamPath, body, headers) to this upstream as
   * `target` says (model rewrite already applied to ctx.body). Rejects with a GatewayError
   * or an error carrying a stable `code`. `signal` aborts the call.
   */
  send(ctx: RequestContext, target: CompiledTarget, signal: AbortSignal): Promise<UpstreamResponse>;
  /** Closes pools and sockets; called once the pipeline that built it has drained. */
  close(): Promise<void>;
}

export interface ProviderFactoryDeps {
  readonly name: string;
}

export type ProviderFactory = (config: UpstreamConfig, deps: ProviderFactoryDeps) => Provider;
