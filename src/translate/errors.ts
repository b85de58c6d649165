/**
 * Upstream errors in the caller's format when the upstream spoke the other one: OpenAI's
 * `{"error":{"message","type","param","code"}}` and Anthropic's
 * `{"type":"error","error":{"type","message"}}`, with each API's status for "overloaded"
 * (Anthropic's 529, everyone else's 503).
 */
import { anthropicErrorType } from '../formats/anthropic.js';
import { isObject, type Json } from './json.js';

/** An error message longer than this is cut (it came from an upstream). */
const MAX_MESSAGE = 2000;

const OPENAI_TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  429: 'rate_limit_error',
};

export interface TranslatedError {
  readonly status: number;
  readonly body: Json;
}

function bounded(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/** The message of either format's error body, or of an unparsed one. */
function messageOf(value: unknown, fallback: string): string {
  if (isObject(value) && isObject(value.error) && typeof value.error.message === 'string') return bounded(value.error.message);
  if (typeof value === 'string' && value.trim()) return bounded(value.trim());
  return fallback;
}

/** An Anthropic error (body parsed, or its text) as OpenAI's. */
export function openaiErrorOf(status: number, value: unknown): TranslatedError {
  const out = status === 529 ? 503 : status;
  const anthropicType = isObject(value) && isObject(value.error) && typeof value.error.type === 'string' ? value.error.type : anthropicErrorType(status);
  const type = OPENAI_TYPES[out] ?? (out >= 500 ? 'api_error' : 'invalid_request_error');
  return { status: out, body: { error: { message: messageOf(value, `The Anthropic upstream answered ${status}.`), type, param: null, code: anthropicType } } };
}

/** An OpenAI error (body parsed, or its text) as Anthropic's. */
export function anthropicErrorOf(status: number, value: unknown): TranslatedError {
  const out = status === 503 ? 529 : status;
  return { status: out, body: { type: 'error', error: { type: anthropicErrorType(out), message: messageOf(value, `The upstream answered ${status}.`) } } };
}
