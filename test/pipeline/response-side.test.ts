import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { slot, type SseEvent, type Stage } from '../../src/index.js';
import { makeEvent } from '../../src/upstream/sse.js';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

const yaml = (upstream: MockUpstream, features: string) => `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features: ${features}
`;

const chatBody = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra });

async function post(url: string, body: string): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

describe('one ordered line: hooks placed among the built-in stages by priority', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const seen: string[] = [];
  const beforeLimit: Stage = { name: 'before-limit', priority: 150, onRequest: () => void seen.push('before') };
  const afterLimit: Stage = { name: 'after-limit', onRequest: () => void seen.push('after') };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(yaml(upstream, '{ rate_limit: { requests: 1, per: 1h, key: global } }'), { hooks: [afterLimit, beforeLimit] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a hook at priority 150 runs before rate_limit (200); one without priority after every built-in', async () => {
    assert.equal((await post(gw.url, chatBody('a'))).status, 200);
    assert.deepEqual(seen, ['before', 'after']);
    const refused = await post(gw.url, chatBody('b'));
    assert.equal(refused.status, 429);
    assert.deepEqual(seen, ['before', 'after', 'before'], 'the refused request reached the early hook only');
  });

  test('explain lists every stage on the line, in order', () => {
    const router = gw.gateway.pipeline.routers.get('main')!;
    assert.deepEqual(
      router.explain.map((line) => line.trim().split(/\s+/).slice(0, 3).join(' ')),
      ['150 hook before-limit', '200 feature rate_limit:', '1000 hook after-limit'],
    );
  });
});

describe('every answer walks the same response side', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const outerSaw: string[] = [];
  let innerBodies = 0;
  // Placed before the cache: sees misses and hits alike.
  const outer: Stage = {
    name: 'outer',
    priority: 100,
    onResponse(_ctx, head) {
      outerSaw.push(String(head.status));
      head.headers['x-outer'] = 'seen';
    },
  };
  // Placed after the cache: edits what the upstream said; the cache stores the edited answer.
  const inner: Stage = {
    name: 'inner',
    priority: 600,
    onResponseBody(_ctx, body) {
      innerBodies++;
      const answer = body as { choices: { message: { content: string } }[] };
      answer.choices[0]!.message.content = answer.choices[0]!.message.content.toUpperCase();
      return answer;
    },
    onChunk(_ctx, event) {
      if (!event.data || event.data === '[DONE]') return undefined;
      const value = JSON.parse(event.data);
      const delta = value.choices?.[0]?.delta;
      if (typeof delta?.content !== 'string') return undefined;
      delta.content = delta.content.toUpperCase();
      return makeEvent(JSON.stringify(value));
    },
  };
  // A stage that answers itself, placed between them.
  const refuser: Stage = {
    name: 'refuser',
    priority: 450,
    onRequest(ctx) {
      if ((ctx.body?.messages as { content: string }[] | undefined)?.[0]?.content === 'refuse me') {
        return { status: 403, body: { error: { message: 'no', type: 'permission_error', param: null, code: 'refused' } } };
      }
      return undefined;
    },
  };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(yaml(upstream, '{ cache: { ttl: 1h } }'), { hooks: [inner, outer, refuser] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a cache hit gives the client the same bytes as the miss, and passes the stages before the cache', async () => {
    outerSaw.length = 0;
    const miss = await post(gw.url, chatBody('same'));
    const hit = await post(gw.url, chatBody('same'));
    assert.equal(miss.headers.get('x-cache'), 'MISS');
    assert.equal(hit.headers.get('x-cache'), 'HIT');
    assert.equal(hit.text, miss.text);
    assert.equal(JSON.parse(hit.text).choices[0].message.content, 'HELLO FROM UPSTREAM');
    assert.equal(innerBodies, 1, 'the stage after the cache saw only the miss');
    assert.deepEqual(outerSaw, ['200', '200']);
    assert.equal(hit.headers.get('x-outer'), 'seen');
    assert.equal(upstream.received.length, 1);
  });

  test('a streamed hit replays what the stages after the cache made of the stream', async () => {
    upstream.script(steps.sse([chunk('gpt-4o', 'quiet '), chunk('gpt-4o', 'words'), chunk('gpt-4o', null, 'stop')]));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const read = async (): Promise<string> => {
      let text = '';
      for await (const e of await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'stream me' }], stream: true })) {
        text += e.choices[0]?.delta.content ?? '';
      }
      return text;
    };
    assert.equal(await read(), 'QUIET WORDS');
    const before = upstream.received.length;
    assert.equal(await read(), 'QUIET WORDS');
    assert.equal(upstream.received.length, before, 'answered from the cache');
  });

  test('a local reply passes the response side of the stages before the one that made it', async () => {
    outerSaw.length = 0;
    const before = innerBodies;
    const res = await post(gw.url, chatBody('refuse me'));
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('x-outer'), 'seen');
    assert.deepEqual(outerSaw, ['403']);
    assert.equal(innerBodies, before, 'the stage after it never saw the request, nor its answer');
    assert.equal(JSON.parse(res.text).error.code, 'refused');
  });
});

describe('response stages rewrite streams across chunk boundaries', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const text = (event: SseEvent): string | null => {
    if (!event.data || event.data === '[DONE]') return null;
    return JSON.parse(event.data).choices?.[0]?.delta?.content ?? null;
  };
  const held = slot<string>('held');
  /** Holds every text delta back and sends them joined as one event before [DONE] (or at the end): it sees across chunks. */
  const joiner: Stage = {
    name: 'joiner',
    onChunk(ctx, event) {
      const piece = text(event);
      if (piece === null) return event.data === '[DONE]' ? [release(ctx)!, event] : undefined;
      ctx.set(held, (ctx.get(held) ?? '') + piece);
      return [];
    },
    onStreamEnd(ctx) {
      const last = release(ctx);
      return last ? [last] : [];
    },
  };
  function release(ctx: Parameters<NonNullable<Stage['onChunk']>>[0]): SseEvent | null {
    const textHeld = ctx.get(held);
    ctx.set(held, '');
    return textHeld ? makeEvent(JSON.stringify(chunk('m', textHeld))) : null;
  }
  /** Adds an event after every text event, and one more at the end of the stream. */
  const echo: Stage = {
    name: 'echo',
    priority: 2000,
    onChunk(_ctx, event) {
      const piece = text(event);
      return piece === null ? undefined : [event, makeEvent(JSON.stringify(chunk('m', '!')))];
    },
    onStreamEnd: () => [makeEvent(JSON.stringify(chunk('m', ' (end)')))],
  };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(yaml(upstream, '{}'), { hooks: [joiner, echo] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('events held across chunks, added, and flushed at the end, in order of the line', async () => {
    // The upstream splits "jane@example.com" over three deltas.
    upstream.script(steps.sse([chunk('m', 'mail jane@'), chunk('m', 'example'), chunk('m', '.com now')], 5));
    const res = await post(gw.url, JSON.stringify({ model: 'm', messages: [], stream: true }));
    const events = res.text.split('\n\n').filter(Boolean).map((e) => e.slice('data: '.length));
    const texts = events.map((data) => (data === '[DONE]' ? data : JSON.parse(data).choices[0].delta.content));
    // echo (2000) runs first outward: each delta gets a "!"; joiner (1000) then joins them
    // whole before [DONE]; echo's end-of-stream event passes joiner too, which releases it
    // when the stream ends.
    assert.deepEqual(texts, ['mail jane@!example!.com now!', '[DONE]', ' (end)']);
  });
});

describe('errors reach an Anthropic caller in Anthropic format', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
routers:
  main: { targets: [{ upstream: up }] }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('an unknown model on /v1/messages: 404 not_found_error with a request id', async () => {
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'req-1' },
      body: JSON.stringify({ model: 'claude-nope', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), {
      type: 'error',
      error: { type: 'not_found_error', message: 'The model "claude-nope" does not exist, and no default_router is configured.' },
      request_id: 'req-1',
    });
  });

  test('invalid JSON on /router/main/v1/messages: 400 invalid_request_error; the same on chat completions stays OpenAI', async () => {
    const anthropic = await fetch(`${gw.url}/router/main/v1/messages`, { method: 'POST', body: '{' });
    assert.equal(anthropic.status, 400);
    const a = (await anthropic.json()) as any;
    assert.equal(a.type, 'error');
    assert.equal(a.error.type, 'invalid_request_error');
    const openai = await fetch(`${gw.url}/router/main/v1/chat/completions`, { method: 'POST', body: '{' });
    assert.equal(((await openai.json()) as any).error.code, 'invalid_json');
  });
});

describe('a handler that waits, then ones that do not: the line resumes where it paused', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const seen: string[] = [];
  const pause = () => new Promise<void>((resolve) => setImmediate(resolve));
  const waitsFirst: Stage = {
    name: 'waits-first',
    priority: 100,
    async onRequest() {
      await pause();
      seen.push('waits');
    },
    onResponse(_ctx, head) {
      // Outermost: runs after the inner stage's wait, and sees what it wrote.
      head.headers['x-outer-saw'] = String(head.headers['x-inner'] ?? 'nothing');
    },
  };
  const syncAfter: Stage = {
    name: 'sync-after',
    priority: 300,
    onRequest(ctx) {
      seen.push('sync');
      if ((ctx.body?.messages as { content: string }[] | undefined)?.[0]?.content === 'refuse me') {
        return { status: 403, body: { error: { message: 'no', type: 'permission_error', param: null, code: 'refused' } } };
      }
      return undefined;
    },
  };
  const waitsInner: Stage = {
    name: 'waits-inner',
    priority: 600,
    onRequest: () => void seen.push('inner'),
    async onResponse(_ctx, head) {
      await pause();
      head.headers['x-inner'] = 'after-wait';
    },
  };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(yaml(upstream, '{}'), { hooks: [waitsInner, syncAfter, waitsFirst] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('request handlers run once each, in order, across the wait; response handlers resume outward', async () => {
    const res = await post(gw.url, chatBody('hello'));
    assert.equal(res.status, 200);
    assert.deepEqual(seen, ['waits', 'sync', 'inner']);
    assert.equal(res.headers.get('x-inner'), 'after-wait');
    assert.equal(res.headers.get('x-outer-saw'), 'after-wait');
    assert.equal(upstream.received.length, 1);
  });

  test('a local reply from a handler after the wait stops the line there', async () => {
    seen.length = 0;
    const res = await post(gw.url, chatBody('refuse me'));
    assert.equal(res.status, 403);
    assert.deepEqual(seen, ['waits', 'sync']);
    assert.equal(JSON.parse(res.text).error.code, 'refused');
    assert.equal(upstream.received.length, 1, 'the refused request never reached the upstream');
  });
});
