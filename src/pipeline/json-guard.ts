/**
 * Checks on a parsed JSON request body that JSON.parse does not make: how deep it nests
 * (code that walks client data, such as the cache key, must never meet unbounded depth)
 * and whether a top-level key is written twice (JSON.parse keeps the last, so the router
 * and a stage or the upstream could read different `model`s).
 */
import { LIMITS } from '../server/limits.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;

/** True when `value` nests objects and arrays deeper than `limit`. Iterative: no recursion on client data. */
export function nestsDeeper(value: unknown, limit: number = LIMITS.json_depth): boolean {
  const stack: unknown[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const depth = depths.pop()!;
    if (depth > limit) return true;
    if (Array.isArray(node)) {
      for (const item of node) {
        if (item !== null && typeof item === 'object') {
          stack.push(item);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in node as Record<string, unknown>) {
        const item = (node as Record<string, unknown>)[key];
        if (item !== null && typeof item === 'object') {
          stack.push(item);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

/** The index just past the string that starts at `raw[start]` (a quote). */
function stringEnd(raw: Buffer, start: number): number {
  let i = start;
  for (;;) {
    i = raw.indexOf(QUOTE, i + 1);
    if (i < 0) return raw.length;
    let slashes = 0;
    for (let j = i - 1; raw[j] === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return i + 1;
  }
}

/**
 * True when the top-level object of `raw` (already known to be valid JSON) names a key
 * twice. Cheap first: a key can only be repeated if its quoted form occurs twice in the
 * bytes (or some key is escaped); only then are the top-level keys read one by one.
 */
export function hasDuplicateTopLevelKey(raw: Buffer, text: string, body: Record<string, unknown>): boolean {
  // The first look is at the decoded text: a string search there allocates nothing, where
  // a Buffer search for a string encodes the needle each time.
  let suspect = text.includes('\\u');
  if (!suspect) {
    for (const key in body) {
      const quoted = JSON.stringify(key);
      const first = text.indexOf(quoted);
      if (first >= 0 && text.indexOf(quoted, first + quoted.length) >= 0) {
        suspect = true;
        break;
      }
    }
  }
  return suspect && topLevelKeysRepeat(raw);
}

function topLevelKeysRepeat(raw: Buffer): boolean {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c === QUOTE) {
      const end = stringEnd(raw, i);
      if (depth === 1) {
        let j = end;
        while (j < raw.length && (raw[j] === 0x20 || raw[j] === 0x0a || raw[j] === 0x0d || raw[j] === 0x09)) j++;
        if (raw[j] === COLON) {
          const key = JSON.parse(raw.toString('utf8', i, end)) as string;
          if (seen.has(key)) return true;
          seen.add(key);
        }
      }
      i = end - 1;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}
