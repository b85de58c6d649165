import { createHash } from 'node:crypto';
import type { RequestContext } from './context.js';

/** JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are one key. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/**
 * The identity of a request: SHA-256 of method, path, the named headers (so callers with
 * different credentials never share) and the canonical body. Used to coalesce identical
 * in-flight requests and to key cached responses.
 */
export function requestKey(ctx: RequestContext, keyHeaders: readonly string[]): string {
  const hash = createHash('sha256');
  hash.update(ctx.method).update('\n').update(ctx.upstreamPath).update('\n');
  for (const name of keyHeaders) {
    const value = ctx.req.headers[name];
    hash.update(name).update(':').update(Array.isArray(value) ? value.join(',') : (value ?? '')).update('\n');
  }
  hash.update(ctx.body === undefined ? '' : canonicalJson(ctx.body));
  return hash.digest('hex');
}
