import type { TextPart } from '../formats/text.js';
import { derivedFromBody } from './body-derived.js';

/**
 * The texts of the request body (its format's `requestText`), found once per version of
 * the body: every text interceptor (PII, content filter, prompt guard, prompt shield,
 * classifier) reads them, and only a change to the body (markBodyChanged) makes them
 * stale. A stage that edits a part through `set` marks the body changed when it is done.
 */
export const requestTextOf = derivedFromBody<readonly TextPart[]>('request_text', (ctx) => (ctx.body === undefined ? [] : ctx.format.requestText(ctx.body)));
