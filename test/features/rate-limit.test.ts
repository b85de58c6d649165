import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { Redis } from 'ioredis';
import { MockUpstream, chunk, steps, type Step } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { backendFixture, Clock, featureYaml, REDIS_SKIP } from '../support/redis.js';
import { MemoryStore } from '../../src/state/memory.js';
import { formatReset } from '../../src/features/rate_limit.js';

const MODEL = 'gpt-4o-mini';
const USAGE = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 };

/** A stream that carries a usage event only when the request asked for one, as OpenAI does. */
const streamWithUsage: Step = (req, res) => {
  const events: unknown[] = [chunk(MODEL, 'Hel'), chunk(MODEL, 'lo'), chunk(MODEL, null, 'stop')];
  if (req.json().stream_options?.include_usage === true) {
    events.push({ id: 'chatcmpl-upstream', object: 'chat.completion.chunk', created: 1700000000, model: MODEL, choices: [], usage: USAGE });
  }
  return steps.sse(events)(req, res);
};

function post(url: string, headers: Record<string, string> = {}, body: unknown = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

test('reset durations are written as OpenAI writes them', () => {
  assert.equal(formatReset(17), '17ms');
  assert.equal(formatReset(1000), '1s');
  assert.equal(formatReset(1500), '1.5s');
  assert.equal(formatReset(60_000), '1m0s');
  assert.equal(formatReset(360_000), '6m0s');
  assert.equal(formatReset(3_723_500), '1h2m3.5s');
  assert.equal(formatReset(0), '0s');
});

test('idle buckets are swept, so a flood of distinct keys does not stay in memory', () => {
  const clock = new Clock();
  const store = new MemoryStore(clock.now);
  for (let i = 0; i < 1000; i++) store.take([{ key: `k${i}`, capacity: 60, interval: 1000, cost: 1, need: 1 }], clock.t);
  assert.equal(store.bucketCount, 1000);
  clock.t += 999; // not yet refilled
  store.sweep();
  assert.equal(store.bucketCount, 1000);
  clock.t += 1; // a full bucket is the same as none
  store.sweep();
  assert.equal(store.bucketCount, 0);
  void store.close();
});

for (const backend of ['memory', 'redis'] as const) {
  describe(`rate_limit on the ${backend} backend`, { skip: backend === 'redis' && REDIS_SKIP }, () => {
    const fx = backendFixture(backend, 'rl');
    const start = (yaml: string, clock = new Clock()): Promise<Running> => fx.start(yaml, clock);

    test('the 61st request in a minute gets the exact 429 body and headers; every answer has x-ratelimit-*', async () => {
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 60, per: 1m, key: global }', { state: fx.state() }));
      const first = await post(gw.url);
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('x-ratelimit-limit-requests'), '60');
      assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '59');
      assert.equal(first.headers.get('x-ratelimit-reset-requests'), '1s');
      assert.equal(first.headers.get('x-ratelimit-limit-tokens'), null, 'no token limit, no token headers');
      await first.arrayBuffer();
      for (let i = 2; i <= 60; i++) {
        const res = await post(gw.url);
        assert.equal(res.status, 200, `request ${i}`);
        assert.equal(res.headers.get('x-ratelimit-remaining-requests'), String(60 - i));
        await res.arrayBuffer();
      }
      const calls = fx.upstream.received.length;
      const refused = await post(gw.url);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('content-type'), 'application/json');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(refused.headers.get('x-ratelimit-limit-requests'), '60');
      assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.equal(refused.headers.get('x-ratelimit-reset-requests'), '1m0s');
      assert.deepEqual(await refused.json(), {
        error: {
          message: 'Rate limit reached for requests on router "main": limit 60 per 1m. Please try again in 1s.',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      });
      assert.equal(fx.upstream.received.length, calls, 'a refused request never reaches the upstream');
    });

    test('the upstream\'s own x-ratelimit-* headers are replaced by the router\'s', async () => {
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 5, per: 1s, key: global }', { state: fx.state() }));
      fx.upstream.script(steps.json(200, { ok: true }, { 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '9999' }));
      const res = await post(gw.url);
      assert.equal(res.headers.get('x-ratelimit-limit-requests'), '5');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), '4');
      assert.equal(res.headers.get('x-ratelimit-reset-requests'), '200ms');
      await res.arrayBuffer();
    });

    test('the bucket refills with time (injected clock)', async () => {
      const clock = new Clock();
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 2, per: 1m, key: global }', { state: fx.state() }), clock);
      for (const expected of [200, 200, 429]) assert.equal((await post(gw.url).then(drain)).status, expected);
      clock.t += 29_999;
      assert.equal((await post(gw.url).then(drain)).status, 429);
      clock.t += 1;
      const res = await post(gw.url).then(drain);
      assert.equal(res.status, 200, 'one request came back after 30s');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), '0');
    });

    test('a token limit is charged from a streamed response\'s usage; the client never sees the usage event', async () => {
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 100, per: 1m, tokens: 10, key: api_key }', { state: fx.state() }));
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-tokens', maxRetries: 0 });
      fx.upstream.script(streamWithUsage);
      const { data: stream, response } = await client.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })
        .withResponse();
      assert.equal(response.headers.get('x-ratelimit-limit-tokens'), '10');
      assert.equal(response.headers.get('x-ratelimit-remaining-tokens'), '10');
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Hello');
      assert.ok(chunks.every((c) => c.choices.length > 0 && !c.usage), 'the usage event the gateway asked for is hidden');
      assert.deepEqual(fx.upstream.received.at(-1)!.json().stream_options, { include_usage: true }, 'the upstream was asked for usage');

      const refused = await post(gw.url, { authorization: 'Bearer sk-tokens' });
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('x-ratelimit-remaining-tokens'), '0');
      assert.equal(refused.headers.get('x-ratelimit-remaining-requests'), '99');
      const body = (await refused.json()) as any;
      assert.equal(body.error.type, 'tokens');
      assert.equal(body.error.code, 'rate_limit_exceeded');
      assert.equal(refused.headers.get('retry-after'), '18', '12 tokens used of 10: 3 to refill at 1 per 6s');

      const other = await post(gw.url, { authorization: 'Bearer sk-someone-else' });
      assert.equal(other.status, 200, 'another API key has its own buckets');
      await other.arrayBuffer();
    });

    test('a client that asked for stream usage still gets it', async () => {
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 100, per: 1m, tokens: 1000 }', { state: fx.state() }));
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
      fx.upstream.script(streamWithUsage);
      const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      assert.deepEqual(chunks.at(-1)!.usage, USAGE);
    });

    test('api_key buckets are per key, and the key itself is never stored', async () => {
      const gw = await start(featureYaml(fx.upstream.url, 'rate_limit: { requests: 1, per: 1m, key: api_key }', { state: fx.state() }));
      assert.equal((await post(gw.url, { authorization: 'Bearer sk-alice-secret' }).then(drain)).status, 200);
      assert.equal((await post(gw.url, { authorization: 'Bearer sk-bob-secret' }).then(drain)).status, 200);
      assert.equal((await post(gw.url, { authorization: 'Bearer sk-alice-secret' }).then(drain)).status, 429);
      if (fx.redis) {
        const client = new Redis(fx.redis.url);
        const keys = await client.keys('*');
        await client.quit();
        assert.ok(keys.length >= 2);
        assert.ok(keys.every((k) => !k.includes('secret')), `no raw key in ${keys.join(', ')}`);
      }
    });

    test('a reload keeps the buckets', async () => {
      const yaml = featureYaml(fx.upstream.url, 'rate_limit: { requests: 2, per: 1m, key: global }', { state: fx.state() });
      const gw = await start(yaml);
      for (const expected of [200, 200]) assert.equal((await post(gw.url).then(drain)).status, expected);
      const result = await gw.gateway.reload({ yaml: `${yaml}    aliases: [renamed]\n` });
      assert.equal(result.changed, true);
      assert.equal((await post(gw.url).then(drain)).status, 429);
    });

    if (backend === 'redis') {
      test('two gateways sharing Redis enforce one limit between them', async () => {
        const shared = fx.state();
        const yaml = featureYaml(fx.upstream.url, 'rate_limit: { requests: 3, per: 1m, key: global }', { state: shared });
        const a = await start(yaml);
        const b = await start(yaml);
        assert.equal((await post(a.url).then(drain)).status, 200);
        assert.equal((await post(b.url).then(drain)).status, 200);
        const third = await post(a.url).then(drain);
        assert.equal(third.status, 200);
        assert.equal(third.headers.get('x-ratelimit-remaining-requests'), '0');
        assert.equal((await post(b.url).then(drain)).status, 429);
        assert.equal((await post(a.url).then(drain)).status, 429);
      });
    }
  });
}

describe('rate_limit keyed by client_ip', () => {
  let upstream: MockUpstream;
  before(async () => {
    upstream = await MockUpstream.start();
  });
  after(() => upstream.close());

  test('X-Forwarded-For is honoured only from server.trusted_proxies', async () => {
    const features = 'rate_limit: { requests: 1, per: 1m }';
    const trusted = await startGateway(featureYaml(upstream.url, features, { top: 'server: { trusted_proxies: [127.0.0.0/8] }\n' }), { now: new Clock().now });
    const untrusted = await startGateway(featureYaml(upstream.url, features, { top: 'server: { trusted_proxies: [10.0.0.1] }\n' }), { now: new Clock().now });
    try {
      const from = (ip: string) => ({ 'x-forwarded-for': `${ip}, 127.0.0.2` });
      assert.equal((await post(trusted.url, from('203.0.113.7')).then(drain)).status, 200);
      assert.equal((await post(trusted.url, from('203.0.113.8')).then(drain)).status, 200, 'another client, another bucket');
      assert.equal((await post(trusted.url, from('203.0.113.7')).then(drain)).status, 429);

      assert.equal((await post(untrusted.url, from('203.0.113.7')).then(drain)).status, 200);
      assert.equal((await post(untrusted.url, from('203.0.113.8')).then(drain)).status, 429, 'the header of an untrusted peer is ignored');
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});

async function drain(res: Response): Promise<Response> {
  await res.arrayBuffer();
  return res;
}
