import type { RequestContext } from './context.js';
import { slot } from './slot.js';

/**
 * A value derived from the request body, made once per version of the body: it holds
 * until a stage changes the body (markBodyChanged), then the next caller makes it again.
 * For what several stages derive from the same body (its canonical form, its texts).
 */
export function derivedFromBody<T>(name: string, make: (ctx: RequestContext) => T): (ctx: RequestContext) => T {
  const memo = slot<{ version: number; value: T }>(name);
  return (ctx) => {
    const known = ctx.get(memo);
    if (known !== undefined && known.version === ctx.bodyVersion) return known.value;
    const value = make(ctx);
    ctx.set(memo, { version: ctx.bodyVersion, value });
    return value;
  };
}
