/**
 * One request and its answer, translated between the caller's API and an upstream's when
 * they differ. Providers call this; the pipeline never sees the other format: stages and
 * the response side read the request and the answer in the caller's format.
 */
import { Readable } from 'node:stream';
import type { ApiFormat } from '../formats/format.js';
import { GatewayError } from '../errors.js';
import { countRequestTokens } from '../tokens/index.js';
import { anthropicRequestToOpenAI, type ChatRequestOptions } from './anthropic-request-to-openai.js';
import { anthropicMessageToOpenAI, AnthropicToOpenAIStream } from './anthropic-response-to-openai.js';
import { anthropicErrorOf, openaiErrorOf, type TranslatedError } from './errors.js';
import { isObject, type Json } from './json.js';
import { openaiRequestToAnthropic } from './openai-request-to-anthropic.js';
import { openaiCompletionToAnthropic, OpenAIToAnthropicStream } from './openai-response-to-anthropic.js';
import { convertStream, type StreamConverter } from './stream.js';
import { HeldBody } from '../upstream/held-body.js';
import { MAX_HELD_ANSWER, readAnswerWhole } from '../upstream/read-whole.js';

/** The largest upstream JSON answer that is translated (larger ones fail as a 502). */
export const MAX_TRANSLATED_BODY = MAX_HELD_ANSWER;

/** Headers as undici gives them (lower-case names); the same shape as the providers' HeaderMap. */
export type HeaderMap = Record<string, string | string[] | undefined>;

export interface AnswerHead {
  status: number;
  headers: HeaderMap;
}

export interface TranslatedAnswer extends AnswerHead {
  body: Readable;
}

/** One request on its way to an upstream of the other format. */
export interface Translation {
  /** The upstream's endpoint (no query). */
  readonly path: string;
  /** The request body in the upstream's format. */
  readonly body: Buffer;
  /** An answer made here instead of calling the upstream (token counting), or null. */
  readonly local: TranslatedAnswer | null;
  /** The upstream's answer in the caller's format. */
  response(head: AnswerHead, body: Readable): Promise<TranslatedAnswer>;
}

export interface TranslationOptions extends ChatRequestOptions {
  /** The upstream's name, for error messages. */
  readonly upstream: string;
}

interface Converters {
  json(value: Json): Json;
  stream(): StreamConverter;
  error(status: number, value: unknown): TranslatedError;
}

function unsupported(from: ApiFormat, to: ApiFormat, method: string, path: string, upstream: string): GatewayError {
  const endpoint = from === 'openai' ? '/v1/chat/completions' : '/v1/messages and /v1/messages/count_tokens';
  return new GatewayError(
    'invalid_request',
    `Upstream "${upstream}" speaks ${to === 'anthropic' ? "Anthropic's Messages API" : "OpenAI's API"}; ${method} ${path} has no equivalent there (only ${endpoint} is translated).`,
  );
}

function collect(body: Readable, upstream: string): Promise<Buffer> {
  return readAnswerWhole(body, MAX_TRANSLATED_BODY, () => new GatewayError('upstream_error', `upstream "${upstream}" sent an answer larger than ${MAX_TRANSLATED_BODY} bytes to translate`));
}

/** The upstream's headers that still describe the translated answer (not its length, type or encoding). */
function carriedHeaders(headers: HeaderMap, contentType: string): HeaderMap {
  const out: HeaderMap = {};
  for (const name in headers) {
    if (name === 'content-length' || name === 'content-type' || name === 'content-encoding') continue;
    out[name] = headers[name];
  }
  out['content-type'] = contentType;
  return out;
}

function jsonAnswer(status: number, headers: HeaderMap, value: unknown): TranslatedAnswer {
  const bytes = Buffer.from(JSON.stringify(value));
  const out = carriedHeaders(headers, 'application/json');
  out['content-length'] = String(bytes.length);
  return { status, headers: out, body: new HeldBody(bytes) };
}

function makeTranslation(path: string, body: Json, converters: Converters, upstream: string): Translation {
  return {
    path,
    body: Buffer.from(JSON.stringify(body)),
    local: null,
    async response(head, source) {
      const type = String(head.headers['content-type'] ?? '');
      if (head.status < 300 && type.startsWith('text/event-stream')) {
        return { status: head.status, headers: carriedHeaders(head.headers, 'text/event-stream; charset=utf-8'), body: convertStream(source, converters.stream()) };
      }
      const raw = await collect(source, upstream);
      let value: unknown;
      try {
        value = JSON.parse(raw.toString('utf8'));
      } catch {
        value = raw.toString('utf8', 0, Math.min(raw.length, 4096));
      }
      if (head.status >= 400 || !isObject(value)) {
        const error = head.status >= 400 ? converters.error(head.status, value) : converters.error(502, `upstream "${upstream}" sent an answer that is not JSON`);
        return jsonAnswer(error.status, head.headers, error.body);
      }
      return jsonAnswer(head.status, head.headers, converters.json(value));
    },
  };
}

/**
 * Translates a request from the caller's format to the upstream's. Throws a GatewayError
 * (a 400 naming the field) for what the upstream's API cannot express.
 */
export function translateRequest(from: ApiFormat, to: ApiFormat, method: string, path: string, body: Json | undefined, options: TranslationOptions): Translation {
  if (from === 'openai' && to === 'anthropic') {
    if (method !== 'POST' || path !== '/v1/chat/completions' || body === undefined) throw unsupported(from, to, method, path, options.upstream);
    const { body: out, facts } = openaiRequestToAnthropic(body);
    return makeTranslation('/v1/messages', out, {
      json: (value) => anthropicMessageToOpenAI(value, facts),
      stream: () => new AnthropicToOpenAIStream(facts),
      error: openaiErrorOf,
    }, options.upstream);
  }
  if (from === 'anthropic' && to === 'openai') {
    if (method === 'POST' && path === '/v1/messages/count_tokens' && body !== undefined) {
      // OpenAI has no counting endpoint: the gateway counts with its own tokenizer.
      const model = typeof body.model === 'string' ? body.model : undefined;
      const answer = jsonAnswer(200, {}, { input_tokens: countRequestTokens('anthropic', body, model) });
      return { path, body: Buffer.alloc(0), local: answer, response: async () => answer };
    }
    if (method !== 'POST' || path !== '/v1/messages' || body === undefined) throw unsupported(from, to, method, path, options.upstream);
    const { body: out, facts } = anthropicRequestToOpenAI(body, options);
    return makeTranslation('/v1/chat/completions', out, {
      json: (value) => openaiCompletionToAnthropic(value, facts),
      stream: () => new OpenAIToAnthropicStream(facts),
      error: anthropicErrorOf,
    }, options.upstream);
  }
  throw unsupported(from, to, method, path, options.upstream);
}
