import { hash } from 'node:crypto';
import type { RequestContext } from './context.js';
import { derivedFromBody } from './body-derived.js';
import { OldestKey } from '../util/oldest-key.js';
import { BoundedMemo } from '../util/bounded-memo.js';

/**
 * An object's keys in code-unit order. Objects in request bodies have a handful of keys,
 * often in order already: those are sorted in place by insertion, since Array#sort
 * allocates a work array on each call, a dozen times per request here.
 */
function sortedKeys(obj: object): string[] {
  const keys = Object.keys(obj);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

/** Object keys as JSON strings, for the few names request bodies use again and again. */
const QUOTED_KEYS = new BoundedMemo((key) => JSON.stringify(key), 1024, 64);

/**
 * JSON with object keys sorted at every level, so `{a,b}` and `{b,a}` are one key.
 * `skip` names top-level fields left out. Built by appending to one string.
 */
export function canonicalJson(value: unknown, skip: ReadonlySet<string> | null = null): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const obj = value as Record<string, unknown>;
  const keys = sortedKeys(obj);
  let out = '{';
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const field = obj[key];
    if (field === undefined || (skip !== null && skip.has(key))) continue;
    out += (first ? '' : ',') + QUOTED_KEYS.get(key) + ':' + canonicalJson(field);
    first = false;
  }
  return `${out}}`;
}

/** Request fields that change how an answer is delivered, not what it is: left out of request keys. */
const DELIVERY_FIELDS: ReadonlySet<string> = new Set(['stream', 'stream_options']);

export interface RequestKeyOptions {
  /** Mixed into the key (e.g. a router's fingerprint, so its entries change with its targets). */
  salt?: string;
}

/** The canonical body of a request (delivery fields left out), made once per version of the body. */
const canonicalBody = derivedFromBody('canonical_body', (ctx) => canonicalJson(ctx.body, DELIVERY_FIELDS));

/**
 * The identity of a request: SHA-256 of the caller's API, method, path, the named headers (so callers with
 * different credentials never share) and the canonical body without its delivery fields
 * (`stream`, `stream_options`). Keys coalesced in-flight requests and cached responses;
 * both ask for it on the same request, which canonicalizes its body once.
 */
export function requestKey(ctx: RequestContext, keyHeaders: readonly string[], options: RequestKeyOptions = {}): string {
  let text = `${ctx.format.name}\0${ctx.method}\0${ctx.upstreamPath}\0${options.salt ?? ''}\0`;
  for (const name of keyHeaders) {
    const value = ctx.req.headers[name];
    text += `${name}\0${Array.isArray(value) ? value.join('\n') : (value ?? '')}\0`;
  }
  if (ctx.body !== undefined) text += canonicalBody(ctx);
  return hash('sha256', text, 'hex');
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
  private readonly oldest = new OldestKey(this.keys);

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
    id += `\0${ctx.rawKey()}`;
    let key = this.keys.get(id);
    if (key === undefined) {
      key = requestKey(ctx, this.keyHeaders, this.options);
      if (this.keys.size >= MEMO_ENTRIES) this.keys.delete(this.oldest.take()!);
      this.keys.set(id, key);
    }
    return key;
  }
}
