/**
 * Token usage read from the tail of a response, without parsing the body: OpenAI puts
 * `usage` at the end of a JSON answer and in the last data event of a stream.
 */

/** How many trailing bytes of a response are kept to find its usage. */
export const USAGE_TAIL_BYTES = 4096;

const PROMPT = /"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)/g;
const COMPLETION = /"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)/g;

function lastMatch(re: RegExp, text: string): number {
  let value = -1;
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) value = Number(m[1]);
  return value;
}

export interface Usage {
  prompt: number;
  completion: number;
}

/** -1 for a count the text does not report. */
export function usageFromTail(tail: string): Usage {
  return { prompt: lastMatch(PROMPT, tail), completion: lastMatch(COMPLETION, tail) };
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
