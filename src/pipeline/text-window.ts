import type { RequestContext } from './context.js';
import type { ChunkResult, SseEvent } from './stage.js';
import { slot } from './slot.js';
import { makeEvent } from '../upstream/sse.js';

/** What a scanner releases of a channel's pending text: its first `length` chars, as `text`. */
export interface Release {
  readonly length: number;
  readonly text: string;
}

/**
 * What reads (and may rewrite) the text of a streamed answer through a TextWindow. Both
 * methods may throw a GatewayError to stop the stream (it ends with an SSE error event).
 */
export interface WindowScanner {
  /**
   * `pending` is one channel's text not yet released (what was held plus the new delta);
   * `final` is true when the channel ended and everything must go. Returns how much of
   * `pending` to release now and its rewritten text; the rest is held for the next delta.
   */
  release(ctx: RequestContext, pending: string, final: boolean): Release;
  /** A whole text an event repeats (a Responses API `…done` event): its rewritten text. */
  whole(ctx: RequestContext, text: string): string;
}

/** A found stretch of text and what it becomes. */
export interface Span {
  readonly start: number;
  readonly end: number;
  readonly replacement: string;
}

/**
 * The release of span-based scanners (redaction, restoring placeholders): everything but
 * the last `window` chars goes, except that a span reaching the end of what arrived (it
 * may still grow) or crossing the cut is held whole. `spans` are sorted, never overlap.
 */
export function releaseSpans(pending: string, final: boolean, window: number, spans: readonly Span[]): Release {
  let cut = final ? pending.length : Math.max(0, pending.length - window);
  if (!final) {
    for (const s of spans) if (s.end >= pending.length || (s.start < cut && s.end > cut)) cut = Math.min(cut, s.start);
  }
  if (spans.length === 0) return { length: cut, text: cut === pending.length ? pending : pending.slice(0, cut) };
  let text = '';
  let at = 0;
  for (const s of spans) {
    if (s.end > cut) break;
    text += pending.slice(at, s.start) + s.replacement;
    at = s.end;
  }
  text += pending.slice(at, cut);
  return { length: cut, text };
}

/** Applies sorted, non-overlapping spans to a whole text. */
export function applySpans(text: string, spans: readonly Span[]): string {
  let out = '';
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + s.replacement;
    at = s.end;
  }
  return out + text.slice(at);
}

interface Channel {
  pending: string;
  /** The `data:` of the channel's last delta event and its `event:` name: the shape of events made to release held text. */
  template: string;
  eventName: string | null;
}

/**
 * A stream text window: the onChunk / onStreamEnd of a stage that reads a streamed
 * answer's text across event boundaries, in the caller's wire format. Each channel's
 * deltas (a choice, a content block) join into one text; the scanner decides how much of
 * it to release with each event and what it becomes, so a value split over two deltas
 * (an e-mail address, a placeholder) is seen whole. Held text is released, in an event of
 * the channel's own shape, before the next event that is not a delta (a finish, a block's
 * stop, `[DONE]`) or when the stream ends. Events with no text pass untouched and
 * unparsed when nothing is held.
 */
export class TextWindow {
  private readonly channels = slot<Map<string, Channel>>('text-window');

  constructor(private readonly scanner: WindowScanner) {}

  onChunk(ctx: RequestContext, event: SseEvent): ChunkResult {
    const data = event.data;
    const channels = ctx.get(this.channels);
    if (data === null || data === '[DONE]' || data.charCodeAt(0) !== 0x7b /* { */) {
      return channels?.size ? [...this.flush(ctx, channels), event] : undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(data);
    } catch {
      return channels?.size ? [...this.flush(ctx, channels), event] : undefined;
    }
    const text = ctx.format.eventText(value);
    if (text.deltas.length === 0) {
      if ((value as { type?: unknown }).type === 'ping') return undefined; // a keep-alive, not the end of a text
      const before = channels?.size ? this.flush(ctx, channels) : [];
      let changed = false;
      for (const part of text.whole) {
        const next = this.scanner.whole(ctx, part.text);
        if (next !== part.text) {
          part.set(next);
          changed = true;
        }
      }
      const out = changed ? makeEvent(JSON.stringify(value), event.event) : event;
      return before.length ? [...before, out] : changed ? out : undefined;
    }
    let map = channels;
    if (!map) ctx.set(this.channels, (map = new Map()));
    let changed = false;
    for (const delta of text.deltas) {
      let channel = map.get(delta.channel);
      if (!channel) map.set(delta.channel, (channel = { pending: '', template: data, eventName: event.event }));
      channel.template = data;
      channel.eventName = event.event;
      const pending = channel.pending + delta.text;
      const release = this.scanner.release(ctx, pending, false);
      channel.pending = release.length === pending.length ? '' : pending.slice(release.length);
      if (release.text !== delta.text) {
        delta.set(release.text);
        changed = true;
      }
    }
    return changed ? makeEvent(JSON.stringify(value), event.event) : undefined;
  }

  onStreamEnd(ctx: RequestContext): readonly SseEvent[] {
    const channels = ctx.get(this.channels);
    return channels?.size ? this.flush(ctx, channels) : [];
  }

  /** Releases what every channel holds, each in an event shaped like its last delta. */
  private flush(ctx: RequestContext, channels: Map<string, Channel>): SseEvent[] {
    const out: SseEvent[] = [];
    for (const [name, channel] of channels) {
      if (channel.pending === '') continue;
      const release = this.scanner.release(ctx, channel.pending, true);
      channel.pending = '';
      const value: unknown = JSON.parse(channel.template);
      const delta = ctx.format.eventText(value).deltas.find((d) => d.channel === name);
      if (!delta || release.text === '') continue;
      delta.set(release.text);
      out.push(makeEvent(JSON.stringify(value), channel.eventName));
    }
    channels.clear();
    return out;
  }
}
