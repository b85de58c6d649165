import { Pool, ProxyAgent, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { UpstreamConfig } from '../config/types.js';
import { parseDuration } from '../util/units.js';
import { CONFIG_DEFAULTS } from '../config/schema.js';
import { upstreamRequestHeaders } from '../upstream/headers.js';
import type { Provider, ProviderFactoryDeps, UpstreamResponse } from './provider.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Attempt } from '../pipeline/stage.js';

/** The `[header, value]` an upstream's `auth` injects, or null for passthrough. */
export function credentialOf(auth: UpstreamConfig['auth']): readonly [string, string] | null {
  if (!auth || auth === 'passthrough') return null;
  if ('bearer' in auth) return ['authorization', `Bearer ${auth.bearer}`];
  return [auth.header.toLowerCase(), auth.value];
}

/**
 * Base path handling: `url: https://api.openai.com` and `url: http://host:8000/v1` both
 * work; the request's leading `/v1` is dropped when the base already ends with it.
 */
export function upstreamPathFor(basePath: string, requestPath: string): string {
  if (basePath.endsWith('/v1') && (requestPath === '/v1' || requestPath.startsWith('/v1/') || requestPath.startsWith('/v1?'))) {
    return basePath + requestPath.slice(3);
  }
  return basePath + requestPath;
}

/**
 * An OpenAI-wire upstream reached over HTTP: one keep-alive undici pool per upstream
 * (or a ProxyAgent when an outbound forward proxy is set), built at compile time.
 */
export function createHttpProvider(config: UpstreamConfig, deps: ProviderFactoryDeps): Provider {
  const url = new URL(config.url!);
  const origin = url.origin;
  const basePath = url.pathname.replace(/\/+$/, '');
  const timeoutMs = parseDuration(config.timeout ?? CONFIG_DEFAULTS.timeout);
  const connections = config.connections ?? CONFIG_DEFAULTS.connections;
  const credential = credentialOf(config.auth);
  const connect = deps.connectTimeoutMs === null ? undefined : { timeout: deps.connectTimeoutMs };
  const dispatcher: Dispatcher = config.proxy
    ? new ProxyAgent({ uri: config.proxy, connections, connect })
    : new Pool(origin, { connections, pipelining: 1, connect });

  return {
    upstream: deps.name,
    async send(ctx: RequestContext, attempt: Attempt): Promise<UpstreamResponse> {
      const body = ctx.requestBody();
      const isBuffer = Buffer.isBuffer(body);
      const headers = upstreamRequestHeaders(ctx.req.headers, {
        credential,
        contentLength: isBuffer ? body.length : null,
        identityEncoding: ctx.body !== undefined,
        requestId: ctx.id,
      });
      const started = performance.now();
      const response = await dispatcher.request({
        origin,
        path: upstreamPathFor(basePath, ctx.upstreamPath),
        method: ctx.method as Dispatcher.HttpMethod,
        headers,
        body: body as Buffer | Readable | null,
        signal: attempt.signal,
        headersTimeout: attempt.firstByteMs ?? timeoutMs,
        bodyTimeout: attempt.idleMs ?? timeoutMs,
      });
      return {
        status: response.statusCode,
        headers: response.headers,
        body: response.body,
        headersMs: performance.now() - started,
      };
    },
    async probe(path: string, probeTimeoutMs: number): Promise<number> {
      const response = await dispatcher.request({
        origin,
        path: upstreamPathFor(basePath, path),
        method: 'GET',
        headers: credential ? { [credential[0]]: credential[1] } : {},
        headersTimeout: probeTimeoutMs,
        bodyTimeout: probeTimeoutMs,
        signal: AbortSignal.timeout(probeTimeoutMs),
      });
      await response.body.dump();
      return response.statusCode;
    },
    close: () => dispatcher.close(),
  };
}
