import { createHash } from 'node:crypto';
import type { RequestContext } from './context.js';

/**
 * JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are one key.
 * `skip` names top-level fields left out.
 */
export function canonicalJson(value: unknown, skip: ReadonlySet<string> | null = null): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    if (obj[key] === undefined || skip?.has(key)) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(obj[key])}`);
  }
  return `{${parts.join(',')}}`;
}

export interface RequestKeyOptions {
  /** Mixed into the key (e.g. a router's fingerprint, so its entries change with its targets). */
  salt?: string;
  /** Top-level body fields that do not change the answer (e.g. `stream`). */
  skip?: ReadonlySet<string>;
}

/**
 * The identity of a request: SHA-256 of method, path, the named headers (so callers with
 * different credentials never share) and the canonical body. Keys coalesced in-flight
 * requests and cached responses.
 */
export function requestKey(ctx: RequestContext, keyHeaders: readonly string[], options: RequestKeyOptions = {}): string {
  const hash = createHash('sha256');
  hash.update(`${ctx.method}\0${ctx.upstreamPath}\0${options.salt ?? ''}\0`);
  for (const name of keyHeaders) {
    const value = ctx.req.headers[name];
    hash.update(`${name}\0${Array.isArray(value) ? value.join('\n') : (value ?? '')}\0`);
  }
  if (ctx.body !== undefined) hash.update(canonicalJson(ctx.body, options.skip ?? null));
  return hash.digest('hex');
}
