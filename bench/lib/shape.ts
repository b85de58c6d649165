/** What the bench sends: the chat request every load generator and client builds. */

export const CHAT_PATH = '/v1/chat/completions';

/** The shape of the requests of one measurement. */
export interface Shape {
  /** Models named in turn (each selects a router, or the default router). */
  models: readonly string[];
  /** Make every request unique (a `user` field with a counter), so that nothing is cached or coalesced. */
  vary: boolean;
  /** Ask for a streamed (SSE) answer. */
  stream: boolean;
  /** Pad the prompt so that the body is about this many bytes (0: a small body, about 200 bytes). */
  bodyBytes: number;
}

export const SMALL: Shape = Object.freeze({ models: ['gpt-4o-mini'], vary: false, stream: false, bodyBytes: 0 });

export function shapeOf(overrides: Partial<Shape>): Shape {
  return Object.freeze({ ...SMALL, ...overrides });
}

const FILLER = 'The quick brown fox jumps over the lazy dog. ';

/**
 * A chat request as an app sends it; `"stream"` comes right after the model, so the mock
 * finds it in the first bytes of a large body. `user` (when given) makes the body unique.
 */
export function chatBody(model: string, shape: Pick<Shape, 'stream' | 'bodyBytes'>, user: string | null): string {
  const base = {
    model,
    ...(shape.stream ? { stream: true } : {}),
    ...(user !== null ? { user: `bench-${user}` } : {}),
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one short sentence.' },
    ],
    max_tokens: 32,
  };
  const small = JSON.stringify(base);
  if (shape.bodyBytes <= small.length) return small;
  const pad = shape.bodyBytes - small.length - '{"role":"user","content":""},'.length;
  const context = FILLER.repeat(Math.ceil(pad / FILLER.length)).slice(0, Math.max(0, pad));
  base.messages.splice(1, 0, { role: 'user', content: context });
  return JSON.stringify(base);
}
