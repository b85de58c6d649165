import { ANTHROPIC_FORMAT } from './anthropic.js';
import type { ApiFormat, WireFormat } from './format.js';
import { OPENAI_FORMAT } from './openai.js';

export const FORMATS: Readonly<Record<ApiFormat, WireFormat>> = Object.freeze({
  openai: OPENAI_FORMAT,
  anthropic: ANTHROPIC_FORMAT,
});

/**
 * The API a caller speaks, from the path it called (never from its headers: current
 * Anthropic SDKs send `Authorization: Bearer`, as OpenAI's do). `/v1/messages…` is
 * Anthropic's; everything else is OpenAI's.
 */
export function inboundFormat(pathNoQuery: string): WireFormat {
  return pathNoQuery === '/v1/messages' || pathNoQuery.startsWith('/v1/messages/') ? ANTHROPIC_FORMAT : OPENAI_FORMAT;
}
