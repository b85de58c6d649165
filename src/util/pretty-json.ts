/**
 * `JSON.stringify(value, null, 2)` in steps, for admin documents that grow with the config
 * (/stats and /config with 10,000 routers, /keys with 10,000 keys): rendered in one go,
 * such a document holds the event loop for tens of milliseconds. The top two levels (these
 * documents are maps of maps: `routers` → each router) and any map or list with many
 * entries are rendered entry by entry, a step every ENTRIES_PER_STEP entries; everything
 * else by JSON.stringify itself. The text is the same as JSON.stringify's.
 */
import type { Steps } from './slices.js';

/** Below this many entries a map or list under the top two levels is rendered in one JSON.stringify. */
const SPLIT_AT = 64;
const SPLIT_LEVELS = 2;
const ENTRIES_PER_STEP = 64;

const isPlain = (value: unknown): value is Record<string, unknown> | unknown[] => {
  if (value === null || typeof value !== 'object') return false;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  const proto = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
};

/** JSON.stringify(value, null, 2) at nesting `indent` (two spaces a level); undefined where JSON.stringify gives undefined. */
function* render(value: unknown, indent: string): Steps<string | undefined> {
  const plain = isPlain(value);
  const split = plain && (indent.length < 2 * SPLIT_LEVELS || (Array.isArray(value) ? value.length : Object.keys(value).length) >= SPLIT_AT);
  if (!split) {
    const text = JSON.stringify(value, null, 2);
    // A string inside JSON never holds a raw newline: every newline is the layout's.
    return text === undefined || indent === '' ? text : text.replaceAll('\n', `\n${indent}`);
  }
  const inner = `${indent}  `;
  const parts: string[] = [];
  let done = 0;
  if (Array.isArray(value)) {
    for (const item of value) {
      parts.push(`${inner}${(yield* render(item, inner)) ?? 'null'}`);
      if (++done % ENTRIES_PER_STEP === 0) yield;
    }
    return parts.length === 0 ? '[]' : `[\n${parts.join(',\n')}\n${indent}]`;
  }
  for (const key of Object.keys(value)) {
    const text = yield* render((value as Record<string, unknown>)[key], inner);
    if (text !== undefined) parts.push(`${inner}${JSON.stringify(key)}: ${text}`);
    if (++done % ENTRIES_PER_STEP === 0) yield;
  }
  return parts.length === 0 ? '{}' : `{\n${parts.join(',\n')}\n${indent}}`;
}

/** The text of JSON.stringify(value, null, 2), in steps. */
export function* prettyJsonSteps(value: unknown): Steps<string> {
  return (yield* render(value, '')) ?? 'null';
}
