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

/** Caller credentials, dropped whenever the upstream's own credential is injected. */
const CALLER_CREDENTIALS = new Set(['authorization', 'x-api-key', 'api-key']);

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
    if (opts.credential && CALLER_CREDENTIALS.has(name)) continue;
    out[name] = value;
  }
  if (opts.credential) out[opts.credential[0]] = opts.credential[1];
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
