import { hash } from 'node:crypto';
import type { ClientIp } from '../server/client-ip.js';
import type { RequestContext } from './context.js';

/**
 * Who a request counts as, for everything that groups requests by caller: rate-limit
 * buckets, A/B variants, memory scopes. One grammar everywhere (`client_ip`, `api_key`,
 * `key`, `team`, `header:<name>`, `global`); `key` and `team` read the request's identity
 * (tenancy, or a hook); values that may be secrets (API keys, headers) are hashed,
 * never kept.
 */
export const CALLER_KEY_PATTERN = '^(client_ip|api_key|key|team|global|header:[A-Za-z0-9!#$%&\'*+.^_`|~-]+)$';

export const CALLER_KEY_DESCRIPTION =
  '`client_ip` (the peer address; `X-Forwarded-For` only from `server.trusted_proxies`), `key` (each caller key by ' +
  'its name in `auth.keys`, or an identity a hook set; without one, a hash of the caller\'s bearer token or ' +
  '`x-api-key`, never the token; `api_key` is the same), `team` (each key\'s team; a key without a team is a team of ' +
  'its own), `header:<name>` (a hash of that header\'s value) or `global` (everyone together).';

/** What naming a caller reads: a request's context, or a WebSocket upgrade (which has no context). */
export type Caller = Pick<RequestContext, 'req' | 'identity'>;

export type CallerKeyOf = (caller: Caller) => string;

/** A short SHA-256 of `text`: how a value that may be a secret is kept (never the value). */
export function sha(text: string): string {
  return hash('sha256', text, 'hex').slice(0, 32);
}

/** A header's value as one string (repeated headers joined by commas). */
export function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** The caller's API key (bearer token, or x-api-key / api-key), or undefined. */
export function apiKeyOf(ctx: Caller): string | undefined {
  const auth = headerText(ctx.req.headers.authorization);
  if (auth) return auth.startsWith('Bearer ') || auth.startsWith('bearer ') ? auth.slice(7).trim() : auth;
  return headerText(ctx.req.headers['x-api-key']) ?? headerText(ctx.req.headers['api-key']);
}

/** The caller's key: its name once authenticated, else a hash of the credential it sent (never the credential). */
function callerKey(ctx: Caller): string {
  const name = ctx.identity?.key;
  if (name) return `key=${name}`;
  const apiKey = apiKeyOf(ctx);
  return apiKey ? `key:${sha(apiKey)}` : 'key:none';
}

/** The function that names a request's caller under `key` (built once, at compile time). */
export function callerKeyFunction(key: string, clientIp: ClientIp): CallerKeyOf {
  if (key === 'global') return () => 'global';
  if (key === 'client_ip') return (ctx) => `ip:${clientIp(ctx.req)}`;
  if (key === 'api_key' || key === 'key') return callerKey;
  if (key === 'team') return (ctx) => (ctx.identity?.team ? `team=${ctx.identity.team}` : callerKey(ctx));
  const name = key.slice('header:'.length).toLowerCase();
  return (ctx) => {
    const value = headerText(ctx.req.headers[name]);
    return value === undefined ? 'header:none' : `header:${sha(value)}`;
  };
}
