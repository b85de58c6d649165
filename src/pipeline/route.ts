/**
 * How a request finds its router (CONFIG.md): `/router/{name}/v1/...` pins a router;
 * otherwise a JSON body's `model` names a router or alias; otherwise `default_router`.
 * A path that could climb out of where it is sent (dot-segments, raw or percent-encoded,
 * encoded slashes, backslashes) is refused with 400 before any routing: the path goes
 * upstream as written, under the upstream's base path, and must stay there.
 */
import { GatewayError } from '../errors.js';

import type { WireFormat } from '../formats/format.js';
import { inboundFormat } from '../formats/registry.js';

export interface Route {
  /** The router named in the path, or null. */
  pinned: string | null;
  /** The path to send upstream: `/v1/...` with the query string. */
  upstreamPath: string;
  /** The upstream path without its query string. */
  pathOnly: string;
  /** The API the caller speaks (by the path): its errors are rendered in this format. */
  format: WireFormat;
}

const ROUTER_PREFIX = '/router/';

function isV1(path: string): boolean {
  return path.startsWith('/v1/') || path === '/v1' || path.startsWith('/v1?');
}

const DECODE_ROUNDS = 3;

function unsafePath(): GatewayError {
  return new GatewayError(
    'invalid_request',
    'The request path may not contain "." or ".." segments, encoded slashes or backslashes.',
    { param: 'path' },
  );
}

/**
 * Throws 400 when a segment of the path is `.` or `..`, or holds a slash or backslash, as
 * written or after percent-decoding (up to three times, for double encoding). Paths with
 * no `%`, `\` or `/.` (nearly all) are passed after three substring checks.
 */
export function checkPath(url: string): void {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  if (path.indexOf('%') < 0 && path.indexOf('\\') < 0 && path.indexOf('/.') < 0) return;
  for (const raw of path.split('/')) {
    let segment = raw;
    for (let round = 0; round <= DECODE_ROUNDS; round++) {
      if (segment === '.' || segment === '..' || segment.includes('/') || segment.includes('\\')) throw unsafePath();
      if (!segment.includes('%')) break;
      try {
        segment = decodeURIComponent(segment);
      } catch {
        throw new GatewayError('invalid_request', 'The request path has malformed percent-encoding.', { param: 'path' });
      }
    }
  }
}

/** The route of a request URL, or null when the path is not one the gateway proxies (400 when it is unsafe). */
export function parseRoute(url: string): Route | null {
  checkPath(url);
  if (isV1(url)) return route(null, url);
  if (url.startsWith(ROUTER_PREFIX)) {
    const slash = url.indexOf('/', ROUTER_PREFIX.length);
    if (slash <= ROUTER_PREFIX.length) return null;
    const rest = url.slice(slash);
    if (!isV1(rest)) return null;
    let name: string;
    try {
      name = decodeURIComponent(url.slice(ROUTER_PREFIX.length, slash));
    } catch {
      return null;
    }
    return route(name, rest);
  }
  return null;
}

function route(pinned: string | null, upstreamPath: string): Route {
  const q = upstreamPath.indexOf('?');
  const pathOnly = q < 0 ? upstreamPath : upstreamPath.slice(0, q);
  return { pinned, upstreamPath, pathOnly, format: inboundFormat(pathOnly) };
}

/**
 * True when the body is parsed as JSON: a POST to one of the caller's API's JSON endpoints
 * (chat completions, messages…), unless it is multipart. These endpoints take nothing but
 * JSON, and clients often label it text/plain, not at all, or (curl -d) as a form: a body
 * that is not JSON then gets a clear 400. Everything else (multipart, binary, unknown
 * paths) streams through.
 */
export function isJsonEndpoint(method: string, route: Route, contentType: string | undefined): boolean {
  if (method !== 'POST') return false;
  if (!route.format.jsonEndpoints.has(route.pathOnly)) return false;
  return contentType === undefined || !contentType.startsWith('multipart/');
}
