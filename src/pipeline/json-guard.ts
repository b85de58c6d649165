/**
 * Checks on a parsed JSON request body that JSON.parse does not make: how deep it nests
 * (code that walks client data, such as the cache key, must never meet unbounded depth)
 * and whether a top-level key is written twice (JSON.parse keeps the last, so the router
 * and a stage or the upstream could read different `model`s).
 */
import { LIMITS } from '../server/limits.js';

const BACKSLASH = 0x5c;
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

/** The index of the quote that closes the string opening at `text[open]`. */
function closingQuote(text: string, open: number): number {
  let i = open;
  for (;;) {
    i = text.indexOf('"', i + 1);
    if (i < 0) return text.length;
    let slashes = 0;
    for (let j = i - 1; text.charCodeAt(j) === BACKSLASH; j--) slashes++;
    if (slashes % 2 === 0) return i;
  }
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Where `c` next occurs in `text` from `from` on (the text's length when it does not). */
function next(text: string, c: string, from: number): number {
  const i = text.indexOf(c, from);
  return i < 0 ? text.length : i;
}

/**
 * How many keys the top-level object of `text` (valid JSON) writes, a key written twice
 * counted twice. It looks only at quotes and brackets, each found by a search that
 * starts past the last one of its kind: a long prompt, or a long array of token ids, is
 * searched through a few times at memchr speed, never looked at character by character.
 */
function topLevelKeysWritten(text: string): number {
  const end = text.length;
  let quote = next(text, '"', 0);
  let openBrace = next(text, '{', 0);
  let closeBrace = next(text, '}', 0);
  let openBracket = next(text, '[', 0);
  let closeBracket = next(text, ']', 0);
  let depth = 0;
  let keys = 0;
  for (;;) {
    const i = Math.min(quote, openBrace, closeBrace, openBracket, closeBracket);
    if (i >= end) return keys;
    if (i === quote) {
      const close = closingQuote(text, i);
      if (depth === 1) {
        let j = close + 1;
        while (j < end && isSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) === COLON) keys++;
      }
      // Brackets inside the string are not structure: each search resumes past it.
      const after = close + 1;
      quote = next(text, '"', after);
      if (openBrace < after) openBrace = next(text, '{', after);
      if (closeBrace < after) closeBrace = next(text, '}', after);
      if (openBracket < after) openBracket = next(text, '[', after);
      if (closeBracket < after) closeBracket = next(text, ']', after);
    } else if (i === openBrace) {
      depth++;
      openBrace = next(text, '{', i + 1);
    } else if (i === openBracket) {
      depth++;
      openBracket = next(text, '[', i + 1);
    } else if (i === closeBrace) {
      depth--;
      closeBrace = next(text, '}', i + 1);
    } else {
      depth--;
      closeBracket = next(text, ']', i + 1);
    }
  }
}

/**
 * True when the top-level object of `text` (already parsed into `body`) names a key
 * twice: JSON.parse keeps one property per name, so the text then writes more keys than
 * the object has. One pass over the text, whatever the key (escaped spellings included).
 */
export function hasDuplicateTopLevelKey(text: string, body: Record<string, unknown>): boolean {
  return topLevelKeysWritten(text) > Object.keys(body).length;
}
