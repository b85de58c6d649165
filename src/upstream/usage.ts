/**
 * Token usage read from the bytes of an answer, without parsing the body. OpenAI puts
 * `usage` at the end of a JSON answer and in the last data event of a stream; Anthropic's
 * stream reports input tokens in its first event (message_start) and output tokens in
 * message_delta near its end, so both ends of a body are kept.
 */
import type { ApiFormat } from '../formats/format.js';

/** How many trailing bytes of a response are kept to find its usage. */
export const USAGE_TAIL_BYTES = 4096;
/** How many leading bytes are kept (Anthropic's message_start). */
export const USAGE_HEAD_BYTES = 2048;

interface Patterns {
  readonly prompt: RegExp;
  readonly completion: RegExp;
  readonly cached: RegExp;
  readonly cacheWrite: RegExp;
}

/** Each API's usage field names: OpenAI's chat (`prompt_tokens`) and Responses (`input_tokens`) names, Anthropic's. */
const PATTERNS: Readonly<Record<ApiFormat, Patterns>> = {
  openai: {
    prompt: /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/g,
    completion: /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/g,
    cached: /"cached_tokens"\s*:\s*(\d+)/g,
    cacheWrite: /"cache_creation_tokens"\s*:\s*(\d+)/g,
  },
  anthropic: {
    prompt: /"input_tokens"\s*:\s*(\d+)/g,
    completion: /"output_tokens"\s*:\s*(\d+)/g,
    cached: /"cache_read_input_tokens"\s*:\s*(\d+)/g,
    cacheWrite: /"cache_creation_input_tokens"\s*:\s*(\d+)/g,
  },
};

function lastMatch(re: RegExp, text: string): number {
  let value = -1;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) value = Number(m[1]);
  return value;
}

export interface Usage {
  /** Every input token, cached ones included; -1 when the answer does not say. */
  prompt: number;
  completion: number;
  /** Input tokens read from the provider's prompt cache (part of `prompt`); 0 when none. */
  cached: number;
  /** Input tokens written to the provider's prompt cache (part of `prompt`); 0 when none. */
  cacheWrite: number;
}

/** The usage an answer in `format` reports; -1 for a count it does not report. */
export function usageOf(format: ApiFormat, tail: TailBuffer): Usage {
  const p = PATTERNS[format];
  const text = tail.text();
  const cached = Math.max(0, lastMatch(p.cached, text));
  const cacheWrite = Math.max(0, lastMatch(p.cacheWrite, text));
  let prompt = lastMatch(p.prompt, text);
  // Anthropic's input_tokens leave cached tokens out; a stream may repeat them in message_delta.
  if (format === 'anthropic' && prompt >= 0) prompt += cached + cacheWrite;
  return { prompt, completion: lastMatch(p.completion, text), cached, cacheWrite };
}

/** Keeps the first USAGE_HEAD_BYTES and the last USAGE_TAIL_BYTES of a byte stream, cheaply. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private head: Buffer[] = [];
  private headSize = 0;
  private dropped = false;

  push(chunk: Buffer): void {
    if (this.headSize < USAGE_HEAD_BYTES) {
      const piece = chunk.subarray(0, USAGE_HEAD_BYTES - this.headSize);
      this.head.push(piece);
      this.headSize += piece.length;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= USAGE_TAIL_BYTES) {
      this.size -= this.chunks.shift()!.length;
      this.dropped = true;
    }
  }

  /** The head (when the tail no longer holds it) and the tail, head first: a last match prefers the tail. */
  text(): string {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const tail = all.subarray(Math.max(0, all.length - USAGE_TAIL_BYTES)).toString('utf8');
    const cut = this.dropped || all.length > USAGE_TAIL_BYTES;
    return cut ? `${Buffer.concat(this.head).toString('utf8')}\n${tail}` : tail;
  }
}
