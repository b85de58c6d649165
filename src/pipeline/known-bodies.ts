import type { RequestContext } from './context.js';
import { parseJsonBody } from './body.js';
import { OldestKey } from '../util/oldest-key.js';

/** What the request path needs from a JSON body before any stage reads it. */
export interface BodyFacts {
  /** The `model` it names, when that is a string. */
  readonly model: string | undefined;
  readonly stream: boolean;
}

/** Bodies up to this size are remembered. */
const MAX_BODY_BYTES = 8192;
/** Bodies remembered at most (oldest forgotten first): at most ~2 MB of body text. */
const MAX_ENTRIES = 256;

/**
 * JSON bodies seen recently, by their exact bytes, with what routing needs from them. A
 * body that comes again byte for byte, which is what a response cache answers, is routed
 * from these facts and parsed only when a stage reads `ctx.body`: a cache hit then costs
 * no JSON.parse. Only bodies that passed parseJsonBody are kept, so a remembered body is
 * known to parse. A pipeline keeps one when some router has a response cache; elsewhere
 * bodies rarely repeat and the lookup would be work for nothing.
 */
export class KnownBodies {
  private readonly facts = new Map<string, BodyFacts>();
  private readonly oldest = new OldestKey(this.facts);

  /** Bodies remembered now. */
  get size(): number {
    return this.facts.size;
  }

  /** Reads the facts of `ctx.rawBody`: remembered ones (the body left unparsed), else by parsing it (a 400 GatewayError when it is not a valid JSON object). */
  read(ctx: RequestContext): BodyFacts {
    const raw = ctx.rawBody!;
    if (raw.length > MAX_BODY_BYTES) return parsedFacts(ctx, raw);
    const text = ctx.rawKey()!;
    const known = this.facts.get(text);
    if (known !== undefined) {
      ctx.deferBody();
      return known;
    }
    const facts = parsedFacts(ctx, raw);
    if (this.facts.size >= MAX_ENTRIES) this.facts.delete(this.oldest.take()!);
    this.facts.set(text, facts);
    return facts;
  }
}

/** Parses `raw` into `ctx.body`; its facts. */
export function parsedFacts(ctx: RequestContext, raw: Buffer): BodyFacts {
  const body = parseJsonBody(raw);
  ctx.body = body;
  return { model: typeof body.model === 'string' ? body.model : undefined, stream: body.stream === true };
}
