import { createHash } from 'node:crypto';
import type { ClientIp } from '../server/client-ip.js';
import type { RequestContext } from './context.js';

/**
 * Who a request counts as, for everything that groups requests by caller: rate-limit
 * buckets, A/B variants, memory scopes. One grammar everywhere (`client_ip`, `api_key`,
 * `header:<name>`, `global`); values that may be secrets (API keys, headers) are hashed,
 * never kept.
 */
export const CALLER_KEY_PATTERN = '^(client_ip|api_key|global|header:[A-Za-z0-9!#$%&\'*+.^_`|~-]+)$';

export const CALLER_KEY_DESCRIPTION =
  '`client_ip` (the peer address; `X-Forwarded-For` only from `server.trusted_proxies`), `api_key` (a hash of the ' +
  'caller\'s bearer token or `x-api-key`), `header:<name>` (a hash of that header\'s value) or `global` (everyone together).';

export type CallerKeyOf = (ctx: RequestContext) => string;

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The caller's API key (bearer token, or x-api-key / api-key), or undefined. */
export function apiKeyOf(ctx: RequestContext): string | undefined {
  const auth = headerText(ctx.req.headers.authorization);
  if (auth) return auth.startsWith('Bearer ') || auth.startsWith('bearer ') ? auth.slice(7).trim() : auth;
  return headerText(ctx.req.headers['x-api-key']) ?? headerText(ctx.req.headers['api-key']);
}

/** The function that names a request's caller under `key` (built once, at compile time). */
export function callerKeyFunction(key: string, clientIp: ClientIp): CallerKeyOf {
  if (key === 'global') return () => 'global';
  if (key === 'client_ip') return (ctx) => `ip:${clientIp(ctx.req)}`;
  if (key === 'api_key') {
    return (ctx) => {
      const apiKey = apiKeyOf(ctx);
      return apiKey ? `key:${sha(apiKey)}` : 'key:none';
    };
  }
  const name = key.slice('header:'.length).toLowerCase();
  return (ctx) => {
    const value = headerText(ctx.req.headers[name]);
    return value === undefined ? 'header:none' : `header:${sha(value)}`;
  };
}
