/**
 * The printable copy of a config (for `/config` and logs): values the schema marks
 * `"x-secret": true`, values that came from the environment, and the password of any URL
 * (`http://user:pass@host` → `http://user:[redacted]@host`) become "[redacted]".
 */
import { toPointer } from './positions.js';

export const REDACTED = '[redacted]';

const URL_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@:]*):([^/?#@]+)@/;

/** The string with a URL's userinfo password replaced; other strings unchanged. */
export function redactUrl(text: string): string {
  return text.replace(URL_PASSWORD, `$1:${REDACTED}@`);
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
