/**
 * Checks on a JSON request body that JSON.parse does not make: how deep it nests (code
 * that walks client data, such as the cache key, must never meet unbounded depth) and
 * whether a top-level key is written twice (JSON.parse keeps the last, so the router and
 * a stage or the upstream could read different `model`s). Both come from one pass over
 * the text, which never walks the parsed value: a body of many small objects or a long
 * array of token ids costs a few searches per bracket, not a visit per element.
 */

const BACKSLASH = 0x5c;
const COLON = 0x3a;

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

/** What one pass over a JSON text finds. */
export interface JsonShape {
  /** Keys the top-level object writes, a key written twice counted twice. */
  readonly topLevelKeys: number;
  /** How deep objects and arrays nest: 1 for `{}`, 2 for `{"a":[]}`. */
  readonly depth: number;
}

/**
 * The shape of `text`, which must be valid JSON (it is parsed first). It looks only at
 * quotes and brackets, each found by a search that starts past the last one of its kind:
 * a long prompt, or a long array of token ids, is searched through a few times at memchr
 * speed, never looked at character by character; brackets inside strings are skipped.
 */
export function scanJson(text: string): JsonShape {
  const end = text.length;
  let quote = next(text, '"', 0);
  let openBrace = next(text, '{', 0);
  let closeBrace = next(text, '}', 0);
  let openBracket = next(text, '[', 0);
  let closeBracket = next(text, ']', 0);
  let depth = 0;
  let deepest = 0;
  let keys = 0;
  for (;;) {
    const i = Math.min(quote, openBrace, closeBrace, openBracket, closeBracket);
    if (i >= end) return { topLevelKeys: keys, depth: deepest };
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
      if (++depth > deepest) deepest = depth;
      openBrace = next(text, '{', i + 1);
    } else if (i === openBracket) {
      if (++depth > deepest) deepest = depth;
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

