/**
 * Whether a config value may be quoted in an error message. A value is printed only when
 * it is known not to be a credential: a typo of an allowed word, a plain lowercase word
 * given for an enum, a short duration, size,
 * name or address, or a URL (printed with its credentials and query values redacted).
 * Anything else, such as an API key pasted where a map or an integer belongs, is
 * described ("a string", "the value") and never shown: messages reach logs, `/stats` and
 * terminals.
 */
import type { AnySchemaObject } from 'ajv/dist/2020.js';
import { SECRET_KEYWORD } from './schema-keywords.js';

/** Formats whose valid values are short and structural: a near miss is not a secret. */
const STRUCTURAL = new Set(['duration', 'size', 'host:port', 'name']);
/** Formats printed through redactUrl. */
const URLS = new Set(['http(s) URL', 'proxy URL']);
const MAX_SHOWN = 40;
/** A plain lowercase word, as enum values are (`drop` for `block | redact | log`): no credential looks like this. */
const WORD = /^[a-z_]{1,20}$/;

export function echoable(value: string, schema: AnySchemaObject, suggestion: string | undefined): boolean {
  if (schema[SECRET_KEYWORD] === true) return false;
  if (suggestion !== undefined) return true;
  if (Array.isArray(schema.enum) && WORD.test(value)) return true;
  const title = typeof schema.title === 'string' ? schema.title : '';
  if (URLS.has(title)) return true;
  return STRUCTURAL.has(title) && value.length <= MAX_SHOWN;
}
