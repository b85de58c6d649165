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

/** The largest answer read for a request the gateway makes on its own behalf (embeddings). */
const MAX_OWN_ANSWER = 32 * 1024 * 1024;

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
        traceparent: attempt.traceparent,
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
    async fetchJson(path: string, body: unknown, signal: AbortSignal) {
      const bytes = Buffer.from(JSON.stringify(body));
      const response = await dispatcher.request({
        origin,
        path: upstreamPathFor(basePath, path),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(bytes.length),
          'accept-encoding': 'identity',
          ...(credential ? { [credential[0]]: credential[1] } : {}),
        },
        body: bytes,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_OWN_ANSWER) {
          response.body.destroy();
          throw Object.assign(new Error(`upstream "${deps.name}" answered more than ${MAX_OWN_ANSWER} bytes`), { code: 'SIDEGATE_ANSWER_TOO_LARGE' });
        }
        chunks.push(chunk);
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null; // not JSON: the caller sees the status
      }
      return { status: response.statusCode, body: parsed };
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
