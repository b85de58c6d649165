/**
 * Token usage read from the tail of a response, without parsing the body: OpenAI puts
 * `usage` at the end of a JSON answer and in the last data event of a stream.
 */

/** How many trailing bytes of a response are kept to find its usage. */
export const USAGE_TAIL_BYTES = 4096;

const PROMPT = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/g;
const COMPLETION = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/g;
/** OpenAI: `usage.prompt_tokens_details.cached_tokens` (part of prompt_tokens). */
const OPENAI_CACHED = /"cached_tokens"\s*:\s*(\d+)/g;
/** Anthropic: cache reads and writes, reported beside (not in) `input_tokens`. */
const CACHE_READ = /"cache_read_input_tokens"\s*:\s*(\d+)/g;
const CACHE_WRITE = /"cache_creation_input_tokens"\s*:\s*(\d+)/g;

function lastMatch(re: RegExp, text: string): number {
  let value = -1;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) value = Number(m[1]);
  return value;
}

export interface Usage {
  /** Every input token, cached ones included. */
  prompt: number;
  completion: number;
  /** Input tokens read from the provider's prompt cache. */
  cached: number;
  /** Input tokens written to the provider's prompt cache (Anthropic). */
  cacheWrite: number;
}

/** -1 for a count the text does not report (cache counts: 0). */
export function usageFromTail(tail: string): Usage {
  const prompt = lastMatch(PROMPT, tail);
  const completion = lastMatch(COMPLETION, tail);
  if (!tail.includes('cache')) return { prompt, completion, cached: 0, cacheWrite: 0 };
  const read = lastMatch(CACHE_READ, tail);
  const write = lastMatch(CACHE_WRITE, tail);
  if (read < 0 && write < 0) return { prompt, completion, cached: Math.max(0, lastMatch(OPENAI_CACHED, tail)), cacheWrite: 0 };
  const cached = Math.max(0, read);
  const cacheWrite = Math.max(0, write);
  return { prompt: Math.max(0, prompt) + cached + cacheWrite, completion, cached, cacheWrite };
}

/** Keeps the last USAGE_TAIL_BYTES of a byte stream, cheaply. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0]!.length >= USAGE_TAIL_BYTES) {
      this.size -= this.chunks.shift()!.length;
    }
  }

  text(): string {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - USAGE_TAIL_BYTES)).toString('utf8');
  }
}
