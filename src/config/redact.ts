/**
 * The printable copy of a config (for `/config` and logs): values the schema marks
 * `"x-secret": true`, values that came from the environment, and the password of any URL
 * (`http://user:pass@host` → `http://user:[redacted]@host`) and URL query values become "[redacted]".
 */
import { toPointer } from './positions.js';

export const REDACTED = '[redacted]';

const URL_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*):([^/?#@]+)@/;
/** `scheme://token@host`: a userinfo without a password is the credential itself. */
const URL_USER = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#@:]+)@/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
/** One `name=value` (or bare `token`) of a query string, up to the fragment. */
const QUERY_PART = /([?&])([^=&#]*)(=[^&#]*)?/g;

/**
 * The string with a URL's credentials replaced: the userinfo password (or a lone
 * userinfo token) and every query value (`?key=sk-…`). Strings that are not URLs are
 * returned unchanged.
 */
export function redactUrl(text: string): string {
  if (!SCHEME.test(text)) return text;
  let out = text.replace(URL_PASSWORD, `$1:${REDACTED}@`).replace(URL_USER, `$1${REDACTED}@`);
  const query = out.indexOf('?');
  if (query >= 0) out = out.slice(0, query) + out.slice(query).replace(QUERY_PART, (part, sep: string, name: string, value?: string) =>
      part.length === 1 ? part : value === undefined ? `${sep}${REDACTED}` : `${sep}${name}=${REDACTED}`,
    );
  return out;
}

/**
 * A deep copy of `value` with the values at `secrets` (JSON Pointers) replaced by
 * "[redacted]" and URL passwords masked everywhere. The copy is frozen.
 */
export function redactConfig(value: unknown, secrets: ReadonlySet<string>): unknown {
  const copy = (node: unknown, pointer: string): unknown => {
    if (secrets.has(pointer)) return REDACTED;
    if (typeof node === 'string') return redactUrl(node);
    if (node === null || typeof node !== 'object') return node;
    if (Array.isArray(node)) return Object.freeze(node.map((item, i) => copy(item, `${pointer}/${i}`)));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(node)) out[key] = copy(item, pointer + toPointer([key]));
    return Object.freeze(out);
  };
  return copy(value, '');
}
