import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { HeaderMap } from '../providers/provider.js';

/** Hop-by-hop headers (RFC 9110 §7.6.1) never cross the gateway, in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The headers a caller's credential travels in, in any provider's API (OpenAI's
 * `Authorization`, Anthropic's `x-api-key`, Azure's `api-key`): only the upstream's own
 * format's are ever forwarded, and caches key by all of them.
 */
export const CREDENTIAL_HEADERS: readonly string[] = Object.freeze(['authorization', 'x-api-key', 'api-key']);
const CALLER_CREDENTIALS: ReadonlySet<string> = new Set(CREDENTIAL_HEADERS);

/** Headers named in `Connection: a, b` are hop-by-hop too. */
function connectionListed(connection: string | string[] | undefined): Set<string> | null {
  // Nearly every request says just keep-alive or close: nothing to parse.
  if (!connection || connection === 'keep-alive' || connection === 'close' || connection === 'Keep-Alive') return null;
  const text = Array.isArray(connection) ? connection.join(',') : connection;
  const names = text.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s && s !== 'close' && s !== 'keep-alive');
  return names.length ? new Set(names) : null;
}

export interface OutgoingRequestOptions {
  /** `[name, value]` of the injected credential, or null for passthrough. */
  credential: readonly [string, string] | null;
  /**
   * With passthrough: the caller's credential headers this upstream takes (those of its own
   * wire format, and only when the caller spoke that format); every other credential header
   * is dropped. Undefined: forward the caller's as they came (an injected credential drops them all).
   */
  callerCredentials?: ReadonlySet<string>;
  /** Header name prefixes of the caller's API that mean nothing to this upstream (`anthropic-` when translating to OpenAI). */
  dropPrefix?: string | null;
  /** Headers the upstream needs and gets unless the caller set them (`anthropic-version`). */
  defaults?: Readonly<Record<string, string>> | null;
  /** Set when the body was re-serialized (its length differs from the caller's). */
  contentLength: number | null;
  /** Ask the upstream for an uncompressed answer, so the gateway can read it. */
  identityEncoding: boolean;
  requestId: string;
  /** This try's W3C trace context (telemetry on): replaces the caller's `traceparent`. */
  traceparent?: string;
}

/** The headers sent upstream: the caller's, less hop-by-hop, Host and (when injected) credentials. */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, opts: OutgoingRequestOptions): Record<string, string | string[]> {
  const listed = connectionListed(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || HOP_BY_HOP.has(name) || name === 'host') continue;
    if (listed?.has(name)) continue;
    if (CALLER_CREDENTIALS.has(name) && (opts.credential || (opts.callerCredentials && !opts.callerCredentials.has(name)))) continue;
    if (opts.dropPrefix && name.startsWith(opts.dropPrefix)) continue;
    out[name] = value;
  }
  if (opts.credential) out[opts.credential[0]] = opts.credential[1];
  if (opts.defaults) for (const name in opts.defaults) if (out[name] === undefined) out[name] = opts.defaults[name]!;
  if (opts.contentLength !== null) {
    out['content-length'] = String(opts.contentLength);
  }
  if (opts.identityEncoding) out['accept-encoding'] = 'identity';
  out['x-request-id'] = opts.requestId;
  if (opts.traceparent !== undefined) out.traceparent = opts.traceparent;
  return out;
}

/** The upstream's response headers as sent to the client: less hop-by-hop ones. */
export function clientResponseHeaders(upstream: HeaderMap, dropLength: boolean): OutgoingHttpHeaders {
  const listed = connectionListed(upstream.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    if (dropLength && name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}

/** The first value of a header that may have been sent several times. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
