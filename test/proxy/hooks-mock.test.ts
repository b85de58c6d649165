import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createGateway, GatewayError, type Gateway, type Stage } from '../../src/index.js';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

describe('user hooks implement the stage interface', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const order: string[] = [];

  const auth: Stage = {
    name: 'auth',
    priority: -10,
    authenticate(ctx) {
      order.push('auth');
      if (ctx.req.headers.authorization !== 'Bearer app-key') {
        throw new GatewayError('invalid_request', 'missing app key');
      }
    },
  };
  const tagger: Stage = {
    name: 'tagger',
    priority: 5,
    onRequest(ctx) {
      order.push('tagger.request');
      ctx.body!.user = 'tagged-by-hook';
      ctx.markBodyChanged();
    },
    onResponse(_ctx, response) {
      order.push('tagger.response');
      response.headers['x-hooked'] = 'yes';
    },
    onResponseBody(_ctx, body) {
      return { ...(body as object), hooked: true };
    },
    onChunk(_ctx, event) {
      if (event.data?.includes('"secret"')) return null; // dropped
      return event;
    },
  };
  const first: Stage = {
    name: 'first',
    priority: 0,
    onRequest() {
      order.push('first.request');
    },
    onResponse() {
      order.push('first.response');
    },
  };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(
      `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main: { targets: [{ upstream: up }] }
`,
      { hooks: [tagger, auth, first] },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('hooks run by priority: request side in order, response side in reverse', async () => {
    order.length = 0;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).withResponse();
    assert.deepEqual(order, ['auth', 'first.request', 'tagger.request', 'tagger.response', 'first.response']);
    assert.equal(upstream.received.at(-1)!.json().user, 'tagged-by-hook');
    assert.equal(response.headers.get('x-hooked'), 'yes');
    assert.equal((data as any).hooked, true);
  });

  test('an authenticate hook refuses with an OpenAI-format error', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: '{"model":"x"}' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.message, 'missing app key');
  });

  test('onChunk can drop events of a stream', async () => {
    upstream.script(steps.sse([chunk('m', 'public'), chunk('m', 'secret'), chunk('m', 'end')]));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'app-key', maxRetries: 0 });
    const parts: string[] = [];
    for await (const e of await client.chat.completions.create({ model: 'm', messages: [], stream: true })) {
      parts.push(e.choices[0]?.delta.content ?? '');
    }
    assert.deepEqual(parts, ['public', 'end']);
  });
});

describe('the built-in mock provider answers offline (the example config’s demo router)', () => {
  let gateway: Gateway;
  let client: OpenAI;

  before(async () => {
    gateway = await createGateway('gateway.example.yaml', { watch: false, env: {} });
    gateway.logger.level = 'silent';
    const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: false });
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  after(() => gateway.close({ drainMs: 500 }));

  test('chat, plain', async () => {
    const answer = await client.chat.completions.create({ model: 'demo', messages: [{ role: 'user', content: 'ping' }] });
    assert.equal(answer.choices[0]!.message.content, 'This is the mock upstream. You said: ping');
    assert.equal(answer.usage?.prompt_tokens, 1);
  });

  test('chat, streaming with usage', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-1',
      messages: [{ role: 'user', content: 'ping' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const e of stream) {
      text += e.choices[0]?.delta.content ?? '';
      usage = e.usage ?? usage;
    }
    assert.equal(text, 'This is the mock upstream. You said: ping');
    assert.equal(usage?.completion_tokens, 8);
  });

  test('embeddings and models', async () => {
    const emb = await client.embeddings.create({ model: 'demo', input: ['a', 'a', 'b'], encoding_format: 'float' });
    assert.equal(emb.data.length, 3);
    assert.deepEqual(emb.data[0]!.embedding, emb.data[1]!.embedding);
    assert.notDeepEqual(emb.data[0]!.embedding, emb.data[2]!.embedding);
    // GET /v1/models names no model: pin the demo router in the base URL.
    const pinned = new OpenAI({ baseURL: client.baseURL.replace(/\/v1$/, '/router/demo/v1'), apiKey: 'unused', maxRetries: 0 });
    const models = await pinned.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['mock-1']);
  });
});
