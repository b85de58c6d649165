/**
 * What changed between two configs, by name only (never a value: the audit line and the
 * `reload.succeeded` event must not carry secrets): routers, upstreams and API keys added,
 * removed or changed, and the other top-level sections that changed. In steps of a few
 * entries compared (a reload runs it on the event loop, in slices).
 */
import type { GatewayConfig } from './types.js';
import type { Steps } from '../util/slices.js';

export interface NamedChanges {
  added: string[];
  removed: string[];
  changed: string[];
}

export interface ConfigChanges {
  routers: NamedChanges;
  upstreams: NamedChanges;
  /** `auth.keys` by `name` (tenancy); empty while the config has none. */
  keys: NamedChanges;
  /** Other top-level sections whose content changed (`server`, `telemetry`, `pricing`…). */
  sections: string[];
}

const NAMED = new Set(['routers', 'upstreams', 'auth']);

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Entries compared per step. */
const ENTRIES_PER_STEP = 50;

function* byName(before: Record<string, unknown>, after: Record<string, unknown>): Steps<NamedChanges> {
  const out: NamedChanges = { added: [], removed: [], changed: [] };
  let count = 0;
  for (const name of Object.keys(after)) {
    if (++count % ENTRIES_PER_STEP === 0) yield;
    if (!Object.hasOwn(before, name)) out.added.push(name);
    else if (!same(before[name], after[name])) out.changed.push(name);
  }
  for (const name of Object.keys(before)) if (!Object.hasOwn(after, name)) out.removed.push(name);
  return out;
}

/** `auth.keys` as a map by name, read loosely: tenancy defines the section. */
function keysOf(config: GatewayConfig): Record<string, unknown> {
  const keys = (config as { auth?: { keys?: unknown } }).auth?.keys;
  const out: Record<string, unknown> = {};
  if (Array.isArray(keys)) for (const key of keys) if (key && typeof key.name === 'string') out[key.name] = key;
  return out;
}

export function* diffConfigSteps(before: GatewayConfig, after: GatewayConfig): Steps<ConfigChanges> {
  const sections: string[] = [];
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (NAMED.has(key)) continue;
    yield; // a section may be large (`pricing`)
    if (!same((before as unknown as Record<string, unknown>)[key], (after as unknown as Record<string, unknown>)[key])) sections.push(key);
  }
  const auth = (c: GatewayConfig): unknown => {
    const { keys: _keys, ...rest } = ((c as { auth?: Record<string, unknown> }).auth ?? {}) as Record<string, unknown>;
    return rest;
  };
  if (!same(auth(before), auth(after))) sections.push('auth');
  return {
    routers: yield* byName(before.routers, after.routers),
    upstreams: yield* byName(before.upstreams, after.upstreams),
    keys: yield* byName(keysOf(before), keysOf(after)),
    sections: sections.sort(),
  };
}
