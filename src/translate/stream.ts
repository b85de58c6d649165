import { Readable } from 'node:stream';
import { EventSplitter, parseEvents } from '../upstream/sse.js';

/** One event of a stream held back at most this long while it arrives (bounds the memory a stream may take). */
export const MAX_EVENT_BYTES = 4 * 1024 * 1024;

/** Turns one format's stream events into the other's, as text (several events, one, or ''). */
export interface StreamConverter {
  event(name: string | null, data: string | null): string;
  /** The upstream's stream ended: the closing events, or a throw when it ended too early. */
  end(): string;
}

/** The upstream's SSE body re-emitted, event by event, in the caller's format. */
export function convertStream(source: AsyncIterable<Buffer>, converter: StreamConverter): Readable {
  async function* run(): AsyncGenerator<Buffer> {
    const splitter = new EventSplitter();
    for await (const chunk of source) {
      const whole = splitter.push(chunk);
      if (whole === null) {
        if (splitter.heldBytes > MAX_EVENT_BYTES) throw Object.assign(new Error('an upstream stream event is too large'), { code: 'UPSTREAM_EVENT_TOO_LARGE' });
        continue;
      }
      let out = '';
      for (const event of parseEvents(whole)) out += converter.event(event.event, event.data);
      if (out) yield Buffer.from(out);
    }
    const rest = splitter.rest();
    let out = '';
    if (rest) for (const event of parseEvents(rest)) out += converter.event(event.event, event.data);
    out += converter.end();
    if (out) yield Buffer.from(out);
  }
  return Readable.from(run(), { objectMode: false });
}
