/**
 * How a request finds its router (CONFIG.md): `/router/{name}/v1/...` pins a router;
 * otherwise a JSON body's `model` names a router or alias; otherwise `default_router`.
 */

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

/** The route of a request URL, or null when the path is not one the gateway proxies. */
export function parseRoute(url: string): Route | null {
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
