import { createRequire } from 'node:module';
import { LRUCache } from 'lru-cache';
import type { ApiFormat } from '../formats/format.js';
import { modelInfo, type EncodingName } from './models.js';

/**
 * The one token counter: `context_trimming`, `context_compression`, rate-limit token
 * estimates and budget reservations all count here, with the real BPE encoding of the
 * model's family (gpt-tokenizer). Encodings are big (their rank tables take about a
 * second and tens of MB to load), so each loads once per process, on first need: at
 * compile time for the features that declare it (`loadEncoding`), never for a config
 * that counts nothing.
 */

interface Encoder {
  countTokens(text: string, options?: { disallowedSpecial?: Set<string> }): number;
}

const require = createRequire(import.meta.url);
const MODULES: Readonly<Record<EncodingName, string>> = {
  o200k_base: 'gpt-tokenizer/cjs/encoding/o200k_base',
  cl100k_base: 'gpt-tokenizer/cjs/encoding/cl100k_base',
};
const encoders = new Map<EncodingName, Encoder>();
/** Text like `<|endoftext|>` in a prompt is counted as text, never refused. */
const AS_TEXT = { disallowedSpecial: new Set<string>() };

/** Loads an encoding (once per process). Call at compile time so no request waits for it. */
export function loadEncoding(name: EncodingName): Encoder {
  let encoder = encoders.get(name);
  if (!encoder) {
    encoder = require(MODULES[name]) as Encoder;
    encoders.set(name, encoder);
  }
  return encoder;
}

/** Loads the encoding of each model named (a feature's targets), at compile time. */
export function loadEncodingsFor(models: Iterable<string | undefined | null>): void {
  for (const model of models) loadEncoding(modelInfo(model ?? undefined).encoding);
}

/**
 * Counts of texts, remembered: a conversation sends its earlier turns again with every
 * request, and every request its roles and system prompt, so each text is counted once.
 * Bounded by the characters it holds and by its number of texts.
 */
const MEMO_MAX_CHARS = 16 * 1024 * 1024;
const MEMO_MAX_TEXTS = 65_536;
/** Made on the first count: an LRU allocates its tables for every entry it may hold up front (2 MB at 65,536), which a config that counts nothing would carry for its whole life. */
let memo: LRUCache<string, number> | null = null;

/** Tokens in `text` for `model`'s encoding (o200k_base when the model is unknown). */
export function countTokens(text: string, model?: string): number {
  if (text.length === 0) return 0;
  const encoding = modelInfo(model).encoding;
  const key = `${encoding}\0${text}`;
  memo ??= new LRUCache<string, number>({ max: MEMO_MAX_TEXTS, maxSize: MEMO_MAX_CHARS, sizeCalculation: (_n, key) => key.length });
  let count = memo.get(key);
  if (count === undefined) memo.set(key, (count = loadEncoding(encoding).countTokens(text, AS_TEXT)));
  return count;
}

/**
 * An upper bound that costs nothing: a token is at least one byte of UTF-8, so a text
 * never has more tokens than bytes. A request under a limit by this bound needs no count.
 */
export function maxTokensOf(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Per-message framing in chat formats (OpenAI's cookbook: 3 per message, 3 to prime the answer). */
const PER_MESSAGE = 3;
const REPLY_PRIMING = 3;
/** What an image costs at low detail (OpenAI); an estimate for the others. */
const PER_IMAGE = 85;

type Json = Record<string, unknown>;

/** The text of one message's content (a string, or parts/blocks of text, tool calls and results). */
export function contentText(content: unknown): { text: string; images: number } {
  if (typeof content === 'string') return { text: content, images: 0 };
  if (!Array.isArray(content)) return { text: content == null ? '' : JSON.stringify(content), images: 0 };
  let text = '';
  let images = 0;
  for (const part of content as Json[]) {
    if (part === null || typeof part !== 'object') continue;
    switch (part.type) {
      case 'text':
      case 'input_text':
      case 'output_text':
        text += typeof part.text === 'string' ? part.text : '';
        break;
      case 'thinking':
        text += typeof part.thinking === 'string' ? part.thinking : '';
        break;
      case 'image_url':
      case 'image':
      case 'input_image':
        images++;
        break;
      case 'tool_use':
        text += `${String(part.name ?? '')}${JSON.stringify(part.input ?? {})}`;
        break;
      case 'tool_result': {
        const inner = contentText(part.content);
        text += inner.text;
        images += inner.images;
        break;
      }
      default:
        if (typeof part.text === 'string') text += part.text;
    }
  }
  return { text, images };
}

/** One message's tokens: its role, content, tool calls and framing. */
export function countMessageTokens(message: Json, model?: string): number {
  const { text, images } = contentText(message.content);
  let tokens = PER_MESSAGE + countTokens(text, model) + images * PER_IMAGE;
  if (typeof message.role === 'string') tokens += countTokens(message.role, model);
  if (typeof message.name === 'string') tokens += countTokens(message.name, model);
  if (Array.isArray(message.tool_calls)) tokens += countTokens(JSON.stringify(message.tool_calls), model);
  return tokens;
}

/**
 * The input tokens of a request body in the caller's format: chat completions' and
 * Anthropic messages' `messages` (with Anthropic's `system`), tools, a completion's
 * `prompt`, an embedding's `input`. An estimate of what the provider will bill (its
 * framing differs a little), exact for the text itself.
 */
export function countRequestTokens(format: ApiFormat, body: Json, model?: string): number {
  const m = model ?? (typeof body.model === 'string' ? body.model : undefined);
  let tokens = 0;
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) if (message && typeof message === 'object') tokens += countMessageTokens(message as Json, m);
    tokens += REPLY_PRIMING;
  }
  if (format === 'anthropic' && body.system !== undefined) tokens += countTokens(contentText(body.system).text, m);
  if (Array.isArray(body.tools) && body.tools.length) tokens += countTokens(JSON.stringify(body.tools), m);
  for (const field of ['prompt', 'input'] as const) {
    const value = body[field];
    if (typeof value === 'string') tokens += countTokens(value, m);
    else if (Array.isArray(value)) for (const item of value) if (typeof item === 'string') tokens += countTokens(item, m);
  }
  return tokens;
}
