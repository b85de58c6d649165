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
 * The identity of a request: SHA-256 of the caller's API, method, path, the named headers (so callers with
 * different credentials never share) and the canonical body. Keys coalesced in-flight
 * requests and cached responses.
 */
export function requestKey(ctx: RequestContext, keyHeaders: readonly string[], options: RequestKeyOptions = {}): string {
  const hash = createHash('sha256');
  hash.update(`${ctx.format.name}\0${ctx.method}\0${ctx.upstreamPath}\0${options.salt ?? ''}\0`);
  for (const name of keyHeaders) {
    const value = ctx.req.headers[name];
    hash.update(`${name}\0${Array.isArray(value) ? value.join('\n') : (value ?? '')}\0`);
  }
  if (ctx.body !== undefined) hash.update(canonicalJson(ctx.body, options.skip ?? null));
  return hash.digest('hex');
}

/** Bodies up to this size have their key remembered. */
const MEMO_BODY_BYTES = 8192;
/** Keys remembered at most (oldest forgotten first): at most ~2 MB of memory. */
const MEMO_ENTRIES = 256;

/**
 * `requestKey` with a memory: a request whose bytes (method, path, key headers, body)
 * were seen recently gets the key computed then, skipping canonical JSON and SHA-256.
 * Repeated identical requests are exactly what a cache answers, so its hit path gets
 * cheaper; a body a stage has changed since it arrived is always keyed afresh.
 */
export class RequestKeyMemo {
  private readonly keys = new Map<string, string>();

  constructor(
    private readonly keyHeaders: readonly string[],
    private readonly options: RequestKeyOptions = {},
  ) {}

  keyOf(ctx: RequestContext): string {
    const raw = ctx.rawBody;
    if (raw === null || raw.length > MEMO_BODY_BYTES || ctx.bodyChanged) return requestKey(ctx, this.keyHeaders, this.options);
    let id = `${ctx.format.name} ${ctx.method} ${ctx.upstreamPath}`;
    for (const name of this.keyHeaders) {
      const value = ctx.req.headers[name];
      id += `\0${Array.isArray(value) ? value.join('\n') : (value ?? '')}`;
    }
    id += `\0${raw.toString('latin1')}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      key = requestKey(ctx, this.keyHeaders, this.options);
      if (this.keys.size >= MEMO_ENTRIES) this.keys.delete(this.keys.keys().next().value!);
      this.keys.set(id, key);
    }
    return key;
  }
}
