import { GatewayError } from '../errors.js';
import type { SseEvent } from '../pipeline/stage.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Finds the end of the last complete event in `buf` (just past its blank line), or -1.
 * Events end with "\n\n" or "\r\n\r\n" (the SSE spec also allows lone "\r", which no
 * model API sends; such bytes still flow, only later).
 */
export function lastEventEnd(buf: Buffer): number {
  for (let i = buf.length - 1; i > 0; i--) {
    if (buf[i] !== LF) continue;
    if (buf[i - 1] === LF) return i + 1;
    if (buf[i - 1] === CR && i >= 3 && buf[i - 2] === LF && buf[i - 3] === CR) return i + 1;
  }
  return -1;
}

/** Splits a buffer of complete events into parsed events. */
export function parseEvents(buf: Buffer): SseEvent[] {
  const events: SseEvent[] = [];
  let start = 0;
  for (let i = 1; i < buf.length; i++) {
    if (buf[i] !== LF) continue;
    let end = -1;
    if (buf[i - 1] === LF) end = i + 1;
    else if (buf[i - 1] === CR && i >= 3 && buf[i - 2] === LF && buf[i - 3] === CR) end = i + 1;
    if (end < 0) continue;
    events.push(parseEvent(buf.subarray(start, end)));
    start = end;
  }
  if (start < buf.length) events.push(parseEvent(buf.subarray(start)));
  return events;
}

function parseEvent(raw: Buffer): SseEvent {
  let data: string | null = null;
  let event: string | null = null;
  for (const line of raw.toString('utf8').split(/\r?\n/)) {
    if (line.startsWith('data:')) {
      const value = line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
      data = data === null ? value : `${data}\n${value}`;
    } else if (line.startsWith('event:')) {
      event = line.slice(line.charCodeAt(6) === 0x20 ? 7 : 6);
    }
  }
  return { raw, data, event };
}

/** Builds an event from a data payload (a stage's replacement, or the gateway's error event). */
export function makeEvent(data: string, event: string | null = null): SseEvent {
  const raw = Buffer.from(`${event ? `event: ${event}\n` : ''}data: ${data}\n\n`);
  return { raw, data, event };
}

/**
 * Splits a byte stream into runs of whole events, in linear time: each chunk is scanned
 * once (plus the three bytes before it, for an event end split across chunks), and held
 * bytes are joined only when the event they belong to is complete.
 */
/** An upstream event outgrew `server.max_event`: the stream ends with this as its `error` event. */
function eventTooLarge(limit: number): GatewayError {
  return new GatewayError('stream_error', `The upstream sent a server-sent event larger than the gateway's limit of ${limit} bytes (server.max_event).`);
}

export class EventSplitter {
  private held: Buffer[] = [];
  /** Bytes held back: the start of an event whose end has not arrived. */
  heldBytes = 0;

  /** `maxEvent`: the most bytes of one unfinished event held (server.max_event); past it, push throws a `stream_error`. */
  constructor(private readonly maxEvent = Number.POSITIVE_INFINITY) {}

  /** Adds a chunk; returns the whole events completed so far, or null. */
  push(chunk: Buffer): Buffer | null {
    let end = lastEventEnd(chunk);
    if (end < 0 && this.heldBytes > 0) end = this.endAcross(chunk);
    if (end < 0) {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes > this.maxEvent) throw eventTooLarge(this.maxEvent);
      return null;
    }
    let out: Buffer;
    if (this.heldBytes === 0) {
      out = end === chunk.length ? chunk : chunk.subarray(0, end);
    } else {
      this.held.push(chunk.subarray(0, end));
      out = Buffer.concat(this.held);
      this.held = [];
      this.heldBytes = 0;
    }
    if (end < chunk.length) {
      const rest = Buffer.from(chunk.subarray(end)); // a copy: the caller may reuse `chunk`
      this.held.push(rest);
      this.heldBytes = rest.length;
      if (this.heldBytes > this.maxEvent) throw eventTooLarge(this.maxEvent);
    }
    return out;
  }

  /** What is still held when the stream ends (an event with no blank line after it), or null. */
  rest(): Buffer | null {
    if (this.heldBytes === 0) return null;
    const out = Buffer.concat(this.held);
    this.held = [];
    this.heldBytes = 0;
    return out;
  }

  /** An event end whose blank line straddles the held bytes and `chunk`: its offset in `chunk`, or -1. */
  private endAcross(chunk: Buffer): number {
    const tail: Buffer[] = [];
    let size = 0;
    for (let i = this.held.length - 1; i >= 0 && size < 3; i--) {
      const part = this.held[i]!;
      const piece = part.subarray(Math.max(0, part.length - (3 - size)));
      tail.unshift(piece);
      size += piece.length;
    }
    const before = Buffer.concat(tail);
    const window = Buffer.concat([before, chunk.subarray(0, 3)]);
    const end = lastEventEnd(window);
    return end > before.length ? end - before.length : -1;
  }
}
