/**
 * `JSON.stringify(value, null, 2)` in steps, for admin documents that grow with the config
 * (/stats and /config with 10,000 routers, /keys with 10,000 keys): rendered in one go,
 * such a document holds the event loop for tens of milliseconds. The top two levels (these
 * documents are maps of maps: `routers` → each router) and any map or list with many
 * entries are split: their entries are rendered by JSON.stringify ENTRIES_PER_STEP at a
 * time, a step each. The text is the same as JSON.stringify's.
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

const splits = (value: unknown, indent: string): value is Record<string, unknown> | unknown[] =>
  isPlain(value) && (indent.length < 2 * SPLIT_LEVELS || (Array.isArray(value) ? value.length : Object.keys(value).length) >= SPLIT_AT);

/**
 * JSON.stringify(value, null, 2) at nesting `indent`: `value` wrapped in as many one-item
 * lists as the nesting is deep, so that JSON.stringify lays it out at that depth itself
 * (re-indenting the text afterwards costs several times the stringify), then unwrapped.
 * Each wrapping list adds `[`, a newline and an indentation before it, and a newline, an
 * indentation and `]` after it.
 */
function stringifyAt(value: unknown, indent: string): { text: string; start: number; end: number } | undefined {
  const depth = indent.length / 2;
  let wrapped = value;
  let before = 0;
  let after = 0;
  for (let k = 0; k < depth; k++) {
    wrapped = [wrapped];
    before += 2 + 2 * (k + 1);
    after += 2 + 2 * k;
  }
  const text = JSON.stringify(wrapped, null, 2);
  if (text === undefined) return undefined;
  return { text, start: before, end: text.length - after };
}

/** The entries of a batch (a map or list) as they are laid out at nesting `indent`, without its brackets; '' when it has none. */
function entriesAt(batch: object, indent: string): string {
  const { text, start, end } = stringifyAt(batch, indent)!;
  if (text.charCodeAt(start + 1) !== 10) return ''; // `{}`: nothing in it was JSON
  return text.slice(start + 2, end - indent.length - 2);
}

/**
 * JSON.stringify(value, null, 2) at nesting `indent`; undefined where JSON.stringify gives
 * undefined. The entries of a split map or list that are not split themselves are rendered
 * ENTRIES_PER_STEP at a time by one JSON.stringify (of a map or list of just those), its
 * braces taken off.
 */
function* render(value: unknown, indent: string): Steps<string | undefined> {
  if (!splits(value, indent)) {
    const at = stringifyAt(value, indent);
    return at && (at.start === 0 && at.end === at.text.length ? at.text : at.text.slice(at.start, at.end));
  }
  const inner = `${indent}  `;
  const array = Array.isArray(value);
  const parts: string[] = [];
  // A batch of map entries has no prototype: it starts out as a dictionary, so its keys make
  // no hidden classes (10,000 routers would make 10,000), and `__proto__` is a plain key.
  const empty = (): Record<string, unknown> | unknown[] => (array ? [] : (Object.create(null) as Record<string, unknown>));
  let batch = empty();
  let batched = 0;
  const flush = (): void => {
    const text = entriesAt(batch, indent);
    if (text !== '') parts.push(text);
    batch = empty();
    batched = 0;
  };
  const keys = array ? null : Object.keys(value);
  const count = keys ? keys.length : (value as unknown[]).length;
  for (let i = 0; i < count; i++) {
    const key = keys ? keys[i]! : i;
    const item = (value as Record<string | number, unknown>)[key];
    if (!splits(item, inner)) {
      if (Array.isArray(batch)) batch.push(item);
      else batch[key] = item;
      if (++batched === ENTRIES_PER_STEP) {
        flush();
        yield;
      }
      continue;
    }
    if (batched > 0) flush();
    const text = yield* render(item, inner);
    parts.push(keys ? `${inner}${JSON.stringify(key)}: ${text}` : `${inner}${text}`);
  }
  if (batched > 0) flush();
  const [open, close] = array ? ['[', ']'] : ['{', '}'];
  return parts.length === 0 ? open + close : `${open}\n${parts.join(',\n')}\n${indent}${close}`;
}

/** The text of JSON.stringify(value, null, 2), in steps. */
export function* prettyJsonSteps(value: unknown): Steps<string> {
  return (yield* render(value, '')) ?? 'null';
}
