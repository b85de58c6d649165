import type { Dispatcher } from 'undici';
import { Readable } from 'node:stream';
import type { UpstreamConfig } from '../config/types.js';
import type { ApiFormat } from '../formats/format.js';
import { headerValue, upstreamRequestHeaders } from '../upstream/headers.js';
import { dispatchRequest, undiciPool, undiciProxyAgent } from '../upstream/undici.js';
import { translateRequest, type Translation } from '../translate/translator.js';
import type { Provider, ProviderFactoryDeps, UpstreamResponse } from './provider.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Attempt } from '../pipeline/stage.js';
import { MAX_HELD_ANSWER, readAnswerWhole } from '../upstream/read-whole.js';

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
const MAX_OWN_ANSWER = MAX_HELD_ANSWER;

/** What a provider module tells the shared HTTP transport about its upstream's wire. */
export interface HttpWire {
  readonly format: ApiFormat;
  /** The base URL when the config sets none. */
  readonly defaultUrl: string | null;
  /** The headers a caller of this format carries its credential in, forwarded with passthrough. */
  readonly callerCredentials: readonly string[];
  /** The response header carrying the upstream's own request id. */
  readonly requestIdHeader: string;
  /** Headers the upstream needs unless the caller sent them. */
  readonly defaults?: Readonly<Record<string, string>>;
  /** `max_tokens` field name when a Messages request is translated to this (OpenAI-format) upstream. */
  readonly maxTokensField?: 'max_completion_tokens' | 'max_tokens';
  /** The path and query sent upstream for a request path (no query), its query (with `?` or '') and model. */
  path?(basePath: string, path: string, query: string, model: string | undefined): string;
}

/** Header prefixes that belong to one API only, dropped when a request is translated away from it. */
const OWN_PREFIX: Readonly<Record<ApiFormat, string>> = { openai: 'openai-', anthropic: 'anthropic-' };

function defaultPath(basePath: string, path: string, query: string): string {
  return upstreamPathFor(basePath, path + query);
}

/**
 * An upstream reached over HTTP, in the wire format its provider module declares: one
 * keep-alive undici pool per upstream (or a ProxyAgent when an outbound forward proxy is
 * set), built at compile time. A caller of the other format is translated both ways.
 */
export function createHttpProvider(config: UpstreamConfig, deps: ProviderFactoryDeps, wire: HttpWire): Provider {
  const url = new URL(config.url ?? wire.defaultUrl!);
  const origin = url.origin;
  const basePath = url.pathname.replace(/\/+$/, '');
  const { timeoutMs, connections } = deps;
  const credential = credentialOf(config.auth);
  const ownCredentials = new Set(wire.callerCredentials);
  const noCredentials = new Set<string>();
  const pathFor = wire.path ?? defaultPath;
  const defaults = wire.defaults ?? null;
  const translation = { upstream: deps.name, maxTokensField: wire.maxTokensField ?? 'max_completion_tokens' } as const;
  const connect = deps.connectTimeoutMs === null ? undefined : { timeout: deps.connectTimeoutMs };
  const dispatcher: Dispatcher = config.proxy
    ? new (undiciProxyAgent())({ uri: config.proxy, connections, connect })
    : new (undiciPool())(origin, { connections, pipelining: 1, connect });

  return {
    upstream: deps.name,
    format: wire.format,
    async send(ctx: RequestContext, attempt: Attempt): Promise<UpstreamResponse> {
      const caller = ctx.format.name;
      const q = ctx.upstreamPath.indexOf('?');
      const pathOnly = q < 0 ? ctx.upstreamPath : ctx.upstreamPath.slice(0, q);
      const query = q < 0 ? '' : ctx.upstreamPath.slice(q);
      let translated: Translation | null = null;
      let body: Buffer | Readable | null;
      if (caller === wire.format) {
        body = ctx.requestBody();
      } else {
        translated = translateRequest(caller, wire.format, ctx.method, pathOnly, ctx.body, translation);
        if (translated.local) return { ...translated.local, headersMs: 0 };
        body = translated.body;
      }
      const isBuffer = Buffer.isBuffer(body);
      const headers = upstreamRequestHeaders(ctx.req.headers, {
        credential,
        // A caller's credential belongs to the API it called: it never reaches an upstream of the other format.
        callerCredentials: translated ? noCredentials : ownCredentials,
        dropPrefix: translated ? OWN_PREFIX[caller] : null,
        defaults,
        contentLength: isBuffer ? (body as Buffer).length : null,
        identityEncoding: ctx.hasJsonBody,
        requestId: ctx.id,
        traceparent: attempt.traceparent,
      });
      if (translated) headers['content-type'] = 'application/json';
      const started = performance.now();
      const response = await dispatchRequest(dispatcher, {
        origin,
        path: pathFor(basePath, translated ? translated.path : pathOnly, query, ctx.model),
        method: ctx.method as Dispatcher.HttpMethod,
        headers,
        body: body as Buffer | Readable | null,
        signal: attempt.signal,
        headersTimeout: attempt.firstByteMs ?? timeoutMs,
        bodyTimeout: attempt.idleMs ?? timeoutMs,
      });
      const headersMs = performance.now() - started;
      const requestId = headerValue(response.headers[wire.requestIdHeader]);
      if (!translated) return { status: response.statusCode, headers: response.headers, body: response.body, headersMs, requestId };
      const answer = await translated.response({ status: response.statusCode, headers: response.headers }, response.body);
      return { ...answer, headersMs, requestId };
    },
    async fetchJson(path: string, body: unknown, signal: AbortSignal) {
      const bytes = Buffer.from(JSON.stringify(body));
      const response = await dispatchRequest(dispatcher, {
        origin,
        path: pathFor(basePath, path, '', typeof (body as { model?: unknown } | null)?.model === 'string' ? (body as { model: string }).model : undefined),
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(bytes.length),
          'accept-encoding': 'identity',
          ...defaults,
          ...(credential ? { [credential[0]]: credential[1] } : {}),
        },
        body: bytes,
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const answer = await readAnswerWhole(response.body, MAX_OWN_ANSWER, () =>
        Object.assign(new Error(`upstream "${deps.name}" answered more than ${MAX_OWN_ANSWER} bytes`), { code: 'SIDEGATE_ANSWER_TOO_LARGE' }),
      );
      const text = answer.toString('utf8');
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null; // not JSON: the caller sees the status
      }
      return { status: response.statusCode, body: parsed };
    },
    async probe(path: string, probeTimeoutMs: number): Promise<number> {
      const headers: Record<string, string> = { ...defaults };
      if (credential) headers[credential[0]] = credential[1];
      const response = await dispatchRequest(dispatcher, {
        origin,
        path: pathFor(basePath, path, '', undefined),
        method: 'GET',
        headers,
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
