import { createHash, randomUUID } from 'node:crypto';
import type { UpstreamConfig } from '../config/types.js';
import type { Provider, ProviderFactoryDeps, ProviderModule, UpstreamResponse } from './provider.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Attempt } from '../pipeline/stage.js';
import { lastUserText, notFound, promptTokens, reply, sse, textOf, words, type Json, type MockAnswer } from './mock-replies.js';
import { countMessagesTokens, messages } from './mock-messages.js';

/**
 * The built-in `mock` provider: answers chat, completions, embeddings and models in
 * OpenAI's format and messages in Anthropic's, streaming too, in process and with no
 * network. It makes the README's first curl work offline and gives examples and tests a real upstream to talk to.
 */

const DEFAULT_MODELS = ['mock-1'];
const EMBEDDING_DIMENSIONS = 8;

/** A deterministic unit vector for a text, so equal inputs embed equally. */
function embed(text: string, dimensions: number): number[] {
  const digest = createHash('sha256').update(text).digest();
  const v = Array.from({ length: dimensions }, (_, i) => digest[i % digest.length]! / 255 - 0.5);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => Number((x / norm).toFixed(6)));
}

function chat(body: Json, id: string, scripted: string | undefined): MockAnswer {
  const model = typeof body.model === 'string' ? body.model : DEFAULT_MODELS[0]!;
  const said = lastUserText(body.messages);
  const content = scripted ?? (said ? `This is the mock upstream. You said: ${said}` : 'This is the mock upstream.');
  const usage = { prompt_tokens: promptTokens(body.messages), completion_tokens: words(content), total_tokens: 0 };
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  const created = Math.floor(Date.now() / 1000);
  const base = { id: `chatcmpl-${id}`, created, model, system_fingerprint: 'mock' };
  if (body.stream !== true) {
    return reply(200, {
      ...base,
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage,
    });
  }
  const chunk = (delta: Json, finish: string | null) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  });
  const events: unknown[] = [chunk({ role: 'assistant', content: '' }, null)];
  for (const piece of content.match(/\S+\s*/g) ?? []) events.push(chunk({ content: piece }, null));
  events.push(chunk({}, 'stop'));
  const options = body.stream_options as Json | undefined;
  if (options?.include_usage === true) events.push({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  events.push('[DONE]');
  return sse(events);
}

function completion(body: Json, id: string): MockAnswer {
  const model = typeof body.model === 'string' ? body.model : DEFAULT_MODELS[0]!;
  const prompt = textOf(body.prompt);
  const text = ' This is the mock upstream.';
  const usage = { prompt_tokens: words(prompt), completion_tokens: words(text), total_tokens: words(prompt) + words(text) };
  const created = Math.floor(Date.now() / 1000);
  if (body.stream === true) {
    return sse([
      { id: `cmpl-${id}`, object: 'text_completion', created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }] },
      '[DONE]',
    ]);
  }
  return reply(200, {
    id: `cmpl-${id}`,
    object: 'text_completion',
    created,
    model,
    choices: [{ index: 0, text, logprobs: null, finish_reason: 'stop' }],
    usage,
  });
}

function embeddings(body: Json): MockAnswer {
  const inputs = Array.isArray(body.input) ? body.input : [body.input];
  const dims = typeof body.dimensions === 'number' && body.dimensions > 0 ? Math.min(body.dimensions, 4096) : EMBEDDING_DIMENSIONS;
  const tokens = inputs.reduce((n: number, x) => n + words(String(x ?? '')), 0);
  return reply(200, {
    object: 'list',
    data: inputs.map((x, index) => ({ object: 'embedding', index, embedding: embed(String(x ?? ''), dims) })),
    model: typeof body.model === 'string' ? body.model : DEFAULT_MODELS[0],
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

/**
 * Set only by code that builds a gateway in process (`sidegate eval` offline): a request
 * can never choose its own answer through the network.
 */
export interface MockOptions {
  /** The chat answer's text for this request, or undefined for the usual echo. */
  readonly answer?: (ctx: RequestContext) => string | undefined;
}

export function createMockProvider(config: UpstreamConfig, deps: ProviderFactoryDeps, options: MockOptions = {}): Provider {
  const models = config.models ?? DEFAULT_MODELS;
  const modelList = {
    object: 'list',
    data: models.map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'sidegate-mock' })),
  };

  function answer(method: string, path: string, body: Json, id: string, scripted?: string): MockAnswer {
    if (method === 'GET' && path === '/v1/models') return reply(200, modelList);
    if (method === 'GET' && path.startsWith('/v1/models/')) {
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      const found = modelList.data.find((m) => m.id === id);
      return found ? reply(200, found) : notFound(`The model '${id}' does not exist`);
    }
    if (method === 'POST' && path === '/v1/chat/completions') return chat(body, id, scripted);
    if (method === 'POST' && path === '/v1/completions') return completion(body, id);
    if (method === 'POST' && path === '/v1/embeddings') return embeddings(body);
    if (method === 'POST' && path === '/v1/messages') return messages(body, id, scripted);
    if (method === 'POST' && path === '/v1/messages/count_tokens') return countMessagesTokens(body);
    return notFound(`The mock upstream "${deps.name}" does not serve ${method} ${path}`);
  }

  return {
    upstream: deps.name,
    format: 'any',
    async send(ctx: RequestContext, attempt: Attempt): Promise<UpstreamResponse> {
      if (attempt.signal.aborted) throw Object.assign(new Error('the request was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
      // A pass-through body (multipart, binary) is drained so the client's upload completes.
      if (ctx.body === undefined && ctx.req.readable) ctx.req.resume();
      return { ...answer(ctx.method, ctx.upstreamPath.split('?', 1)[0]!, ctx.body ?? {}, ctx.id, options.answer?.(ctx)), headersMs: 0 };
    },
    async fetchJson(path: string, body: unknown) {
      const answered = answer('POST', path, (body ?? {}) as Json, randomUUID());
      const chunks: Buffer[] = [];
      for await (const chunk of answered.body as AsyncIterable<Buffer>) chunks.push(chunk);
      return { status: answered.status, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
    },
    probe: async () => 200,
    close: async () => {},
  };
}

export const mock: ProviderModule = {
  name: 'mock',
  format: 'any',
  summary: '`mock`: answers locally in both APIs, streaming too (for tests and offline development; needs no `url`)',
  defaultUrl: null,
  inProcess: true,
  keys: {
    models: {
      description: 'Only for `provider: mock`: the model ids that `GET /v1/models` returns, e.g. `[mock-small, mock-large]`.',
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', minLength: 1 },
    },
  },
  create: createMockProvider,
};
