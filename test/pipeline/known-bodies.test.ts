import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { Stage } from '../../src/index.js';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

// Two routers with a response cache, so the pipeline remembers the bodies it has seen.
const yaml = (upstream: MockUpstream) => `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features: { cache: { ttl: 1h } }
  second:
    aliases: [second-model]
    targets: [{ upstream: up, model: second-upstream-model }]
    features: { cache: { ttl: 1h } }
`;

async function post(url: string, body: string): Promise<{ status: number; headers: Headers; json: { model?: string; error?: { message: string } } }> {
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, headers: res.headers, json: (await res.json()) as { model?: string; error?: { message: string } } };
}

/** Counts JSON.parse calls on `text` while `run` runs (the gateway runs in this process). */
async function parsesOf(text: string, run: () => Promise<unknown>): Promise<number> {
  const parse = JSON.parse;
  let count = 0;
  JSON.parse = ((source: string, reviver?: Parameters<typeof parse>[1]) => {
    if (source === text) count++;
    return parse(source, reviver);
  }) as typeof JSON.parse;
  try {
    await run();
  } finally {
    JSON.parse = parse;
  }
  return count;
}

describe('a body sent again byte for byte is routed without parsing it', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const seen: unknown[] = [];
  let readBody = false;
  // Placed before the cache: it reads (and edits) the body only when asked to.
  const reader: Stage = {
    name: 'reader',
    priority: 100,
    onRequest(ctx) {
      if (!readBody) return;
      const body = ctx.body as { messages: { content: string }[]; seen_by_reader?: boolean };
      seen.push(structuredClone(body));
      body.seen_by_reader = true; // an edit of this request's body only
      ctx.markBodyChanged();
    },
  };

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(yaml(upstream), { hooks: [reader] });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('the hit makes no JSON.parse of the body; the miss before it did', async () => {
    const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'once' }] });
    assert.ok((await parsesOf(body, () => post(gw.url, body))) >= 1);
    let hit!: Awaited<ReturnType<typeof post>>;
    assert.equal(await parsesOf(body, async () => (hit = await post(gw.url, body))), 0);
    assert.equal(hit.status, 200);
    assert.equal(hit.headers.get('x-cache'), 'HIT');
    assert.equal(upstream.received.length, 1);
  });

  test('the router comes from the remembered model: a repeat of a body naming an alias goes to that router', async () => {
    const body = JSON.stringify({ model: 'second-model', messages: [{ role: 'user', content: 'routed' }] });
    const first = await post(gw.url, body);
    const again = await post(gw.url, body);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    assert.equal(again.headers.get('x-cache'), 'HIT');
    assert.equal(again.json.model, 'second-upstream-model');
    assert.equal(upstream.received.at(-1)!.json().model, 'second-upstream-model');
  });

  test('a stream asked for in a remembered body is streamed (the hit replays the events)', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const read = async (): Promise<number> => {
      let chunks = 0;
      const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'stream twice' }], stream: true });
      for await (const _ of stream) chunks++;
      return chunks;
    };
    upstream.script(steps.sse([chunk('gpt-4o', 'one'), chunk('gpt-4o', ' two'), chunk('gpt-4o', null, 'stop')]));
    const calls = upstream.received.length;
    assert.equal(await read(), 3);
    assert.equal(await read(), 3);
    assert.equal(upstream.received.length, calls + 1, 'the second was a hit');
  });

  test('a stage that reads the body gets it parsed, each request its own copy', async () => {
    readBody = true;
    try {
      const body = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'read me' }] });
      const calls = upstream.received.length;
      await post(gw.url, body); // remembered now, and edited by the reader
      await post(gw.url, body); // known bytes, parsed afresh for the reader
      assert.deepEqual(seen, [
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'read me' }] },
        { model: 'gpt-4o', messages: [{ role: 'user', content: 'read me' }] },
      ]);
      assert.equal(upstream.received.length, calls + 1, 'the edited body is one cache key: the second is a hit');
      assert.equal(upstream.received.at(-1)!.json().seen_by_reader, true);
    } finally {
      readBody = false;
    }
  });

  test('bodies that fail the checks are never remembered: each repeat is refused again', async () => {
    for (const bad of ['{"model":"gpt-4o","messages":[', '{"model":"gpt-4o","model":"other","messages":[]}', '[1,2]']) {
      for (let i = 0; i < 2; i++) assert.equal((await post(gw.url, bad)).status, 400, `${bad}, try ${i + 1}`);
    }
  });
});
