/**
 * Usage for streams. Metrics, the access line, telemetry and the features that charge
 * tokens or money need the upstream's `usage`, which a stream only carries when the
 * request asks for it (`stream_options.include_usage`). When the client did not ask, the
 * gateway asks for it and hides that extra usage-only event from the client (usage is
 * read from the upstream's bytes before chunk stages run).
 */
import type { RequestContext } from '../pipeline/context.js';
import type { SseEvent, Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';

/** True when the gateway (not the client) asked for stream usage. */
const ADDED = slot<boolean>('stream_usage_added');

/** Endpoints whose streams report usage on request. */
function takesStreamOptions(path: string): boolean {
  return path.startsWith('/v1/chat/completions') || path.startsWith('/v1/completions');
}

function asksUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return typeof options === 'object' && options !== null && (options as Record<string, unknown>).include_usage === true;
}

/** onRequest: make a streamed request ask for usage in its last event (once per request). */
export function requestStreamUsage(ctx: RequestContext): void {
  if (!ctx.stream || !takesStreamOptions(ctx.upstreamPath)) return; // before reading the body: a known one stays unparsed
  const body = ctx.body;
  if (body === undefined) return;
  if (ctx.has(ADDED)) return;
  if (asksUsage(body)) {
    ctx.set(ADDED, false);
    return;
  }
  const options = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
  body.stream_options = { ...options, include_usage: true };
  ctx.markBodyChanged();
  ctx.set(ADDED, true);
}

/** Whether the client itself asked for the usage event of a stream. */
export function clientWantsStreamUsage(ctx: RequestContext): boolean {
  return ctx.body !== undefined && asksUsage(ctx.body) && ctx.get(ADDED) !== true;
}

/** True for the usage-only event of a stream: `"choices": []` and a `usage` object. */
export function isUsageOnlyEvent(data: string | null): boolean {
  if (data === null || !data.includes('"usage"') || !data.includes('"choices"')) return false;
  try {
    const value = JSON.parse(data) as { choices?: unknown; usage?: unknown };
    return Array.isArray(value.choices) && value.choices.length === 0 && typeof value.usage === 'object' && value.usage !== null;
  } catch {
    return false;
  }
}

/** onChunk: drops the usage event the gateway asked for (the client did not). */
export function hideAddedUsage(ctx: RequestContext, event: SseEvent): SseEvent | null | undefined {
  if (ctx.get(ADDED) !== true || !isUsageOnlyEvent(event.data)) return undefined;
  return null;
}

/**
 * The first stage of every router: a streamed chat or text completion always asks for
 * usage, so its tokens are counted like a non-streamed answer's (metrics, access line,
 * telemetry, rate limits, budgets), and the client sees the usage event only if it asked.
 */
export const STREAM_USAGE: Stage = Object.freeze({
  name: 'stream_usage',
  onRequest: requestStreamUsage,
  onChunk: hideAddedUsage,
});
