import type { TextPart } from '../formats/text.js';
import type { RequestContext } from './context.js';
import { slot } from './slot.js';

const TEXT = slot<{ version: number; parts: readonly TextPart[] }>('request_text');

/**
 * The texts of the request body (its format's `requestText`), found once per version of
 * the body: every text interceptor (PII, content filter, prompt guard, prompt shield,
 * classifier) reads them, and only a change to the body (markBodyChanged) makes them
 * stale. A stage that edits a part through `set` marks the body changed when it is done.
 */
export function requestTextOf(ctx: RequestContext): readonly TextPart[] {
  if (ctx.body === undefined) return [];
  const known = ctx.get(TEXT);
  if (known !== undefined && known.version === ctx.bodyVersion) return known.parts;
  const parts = ctx.format.requestText(ctx.body);
  ctx.set(TEXT, { version: ctx.bodyVersion, parts });
  return parts;
}
