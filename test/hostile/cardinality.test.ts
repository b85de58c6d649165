/**
 * Client input that would grow the gateway's memory without bound: unique `model` strings
 * (metric labels) and unique rate-limit keys (buckets).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockUpstream, steps, chatCompletion } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { MemoryStore } from '../../src/state/memory.js';

/** One chat request through the gateway at `url`, which must answer 200. */
async function chat(url: string, model: string, content: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
}

describe('metric labels from clients are bounded', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    // Echo the requested model and report usage, so every request counts tokens under its model.
    upstream = await MockUpstream.start((req, res) => steps.json(200, chatCompletion(req.json().model))(req, res));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams: { up: { provider: openai, url: ${upstream.url} } }
default_router: main
routers:
  main: { targets: [{ upstream: up }] }
  fast: { aliases: [gpt-fast], targets: [{ upstream: up, model: rewritten-model }] }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const ask = (model: string): Promise<void> => chat(gw.url, model, 'hi');

  async function tokenModels(): Promise<{ models: Set<string>; series: number; bytes: number }> {
    const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    const models = new Set([...text.matchAll(/^ai_gateway_tokens_total\{[^}]*model="([^"]*)"/gm)].map((m) => m[1]!));
    return { models, series: text.split('\n').filter((l) => l.startsWith('ai_gateway_')).length, bytes: Buffer.byteLength(text) };
  }

  test('2000 unique model names and one of 1 MB: known names keep theirs, the rest are "other"', async () => {
    await ask('gpt-4o-mini'); // priced: keeps its name
    await ask('gpt-4o-2024-08-06'); // dated: labelled by its pricing entry
    await ask('gpt-fast'); // an alias: rewritten to the target's model, which the config names
    await ask('attacker-model-first');
    const before = (await tokenModels()).series;
    for (let i = 0; i < 2000; i++) await ask(`attacker-model-${i}-${'z'.repeat(64)}`);
    await ask('m'.repeat(1024 * 1024 - 200));
    const { models, series, bytes } = await tokenModels();
    assert.deepEqual([...models].sort(), ['gpt-4o', 'gpt-4o-mini', 'other', 'rewritten-model']);
    assert.equal(series, before, 'no new series: only the counts grew');
    assert.ok(bytes < 64 * 1024, `/metrics is ${bytes} bytes`);
  });
});

describe('rate-limit buckets are bounded', () => {
  test('past the bound the least recently used bucket is forgotten; recent ones keep their level', () => {
    const store = new MemoryStore(() => 0, 100);
    const spec = (key: string) => [{ key, capacity: 2, interval: 60_000, cost: 1, need: 1 }];
    store.take(spec('recent'), 0);
    for (let i = 0; i < 1000; i++) {
      store.take(spec(`key-${i}`), 0);
      if (i % 50 === 0) store.take(spec('recent'), 0, true); // touched now and then: stays
    }
    assert.equal(store.bucketCount, 100);
    assert.equal(store.take(spec('recent'), 0).allowed, false, 'the recent bucket is still empty');
    assert.equal(store.take(spec('key-0'), 0).allowed, true, 'an old bucket was forgotten (full again)');
  });
});

describe('remembered request bodies are bounded', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams: { up: { provider: openai, url: ${upstream.url} } }
default_router: main
routers:
  main: { targets: [{ upstream: up }], features: { cache: { ttl: 1h } } }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const send = (content: string): Promise<void> => chat(gw.url, 'gpt-4o', content);

  test('300 unique bodies leave at most 256 remembered; a body over 8 KB is never kept', async () => {
    const known = gw.gateway.pipeline.knownBodies!;
    await send('x'.repeat(9000));
    await send('x'.repeat(9000));
    assert.equal(known.size, 0);
    assert.equal(upstream.received.length, 1, 'the repeated large body was a cache hit all the same');
    for (let i = 0; i < 300; i++) await send(`unique ${i}`);
    assert.equal(known.size, 256);
  });
});
