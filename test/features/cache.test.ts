import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { chatCompletion, chunk, steps } from '../support/mock-upstream.js';
import type { Running } from '../support/gateway.js';
import { backendFixture, Clock, featureYaml, REDIS_SKIP } from '../support/redis.js';
import { canonicalJson } from '../../src/pipeline/request-key.js';

const MODEL = 'gpt-4o-mini';
const MESSAGES = [{ role: 'user', content: 'hi' }];
const OTHER_ROUTER = '  other:\n    targets: [{ upstream: up }]\n    features:\n      cache: {}\n';

async function post(url: string, body: unknown, headers: Record<string, string> = {}, path = '/v1/chat/completions'): Promise<{ res: Response; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-tenant-a', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { res, text: await res.text() };
}

test('canonical JSON sorts keys at every level and keeps array order', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: null } }), '{"a":{"c":null,"d":[2,{"y":2,"z":1}]},"b":1}');
  assert.equal(canonicalJson({ stream: true, model: 'm' }, new Set(['stream'])), '{"model":"m"}');
  assert.equal(canonicalJson({ b: 1, B: 2, a: 3, _: 4, é: 5 }), '{"B":2,"_":4,"a":3,"b":1,"é":5}'); // code-unit order, as Array#sort
  const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${(i * 7919) % 40}`, i]));
  const sorted = Object.fromEntries(Object.entries(many).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  assert.equal(canonicalJson(many), JSON.stringify(sorted));
  assert.equal(canonicalJson({ z: 1, y: { x: 1, w: 2 } }), canonicalJson({ y: { w: 2, x: 1 }, z: 1 }));
  // Keys that JSON escapes, long keys (quoted afresh each time) and undefined fields, twice (the second from memory).
  const odd = { 'a"b': 1, 'c\\d': [undefined, 2], '\n': { ['x'.repeat(100)]: 'v' }, gone: undefined };
  for (let i = 0; i < 2; i++) assert.equal(canonicalJson(odd), JSON.stringify({ '\n': { ['x'.repeat(100)]: 'v' }, 'a"b': 1, 'c\\d': [null, 2] }));
});

for (const backend of ['memory', 'redis'] as const) {
  describe(`cache on the ${backend} backend`, { skip: backend === 'redis' && REDIS_SKIP }, () => {
    const fx = backendFixture(backend, 'cache');
    const start = (features: string, clock = new Clock(), router = ''): Promise<Running> =>
      fx.start(featureYaml(fx.upstream.url, features, { state: fx.state(), router }), clock);

    test('MISS, then HIT with X-Cache-Timestamp and Age; the upstream is called once', async () => {
      const clock = new Clock();
      const gw = await start('cache: { ttl: 1m }', clock);
      const calls = fx.upstream.received.length;
      const first = await post(gw.url, { model: MODEL, messages: MESSAGES });
      assert.equal(first.res.status, 200);
      assert.equal(first.res.headers.get('x-cache'), 'MISS');
      assert.equal(first.res.headers.get('x-cache-timestamp'), null);
      clock.t += 7_000;
      const second = await post(gw.url, { model: MODEL, messages: MESSAGES });
      assert.equal(second.res.status, 200);
      assert.equal(second.res.headers.get('x-cache'), 'HIT');
      assert.equal(second.res.headers.get('x-cache-timestamp'), new Date(clock.t - 7_000).toISOString());
      assert.equal(second.res.headers.get('age'), '7');
      assert.equal(second.res.headers.get('content-type'), 'application/json');
      assert.ok(second.res.headers.get('x-request-id'));
      assert.equal(second.text, first.text);
      assert.equal(fx.upstream.received.length, calls + 1);

      clock.t += 60_000;
      const expired = await post(gw.url, { model: MODEL, messages: MESSAGES });
      assert.equal(expired.res.headers.get('x-cache'), 'MISS', 'past its ttl an entry is not served');
      assert.equal(fx.upstream.received.length, calls + 2);

      const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as any;
      const section = stats.routers.main.cache;
      assert.equal(section.backend, backend);
      assert.equal(section.hits, 1);
      assert.equal(section.misses, 2);
      if (backend === 'memory') {
        assert.equal(section.entries, 1);
        assert.ok(section.bytes > first.text.length);
      }
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(metrics, /ai_gateway_cache_requests_total\{router="main",result="hit"\} 1/);
    });

    test('the key ignores the order of body keys', async () => {
      const gw = await start('cache: {}');
      const a = await post(gw.url, `{"model":"${MODEL}","temperature":0,"messages":[{"role":"user","content":"order"}]}`);
      const b = await post(gw.url, `{"messages":[{"content":"order","role":"user"}],"temperature":0,"model":"${MODEL}"}`);
      assert.equal(a.res.headers.get('x-cache'), 'MISS');
      assert.equal(b.res.headers.get('x-cache'), 'HIT');
      const c = await post(gw.url, `{"messages":[{"content":"order","role":"user"}],"temperature":1,"model":"${MODEL}"}`);
      assert.equal(c.res.headers.get('x-cache'), 'MISS', 'a different value is a different key');
    });

    test('tenants never share entries: the key includes Authorization', async () => {
      const gw = await start('cache: {}');
      const body = { model: MODEL, messages: [{ role: 'user', content: 'tenants' }] };
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'MISS');
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'HIT');
      assert.equal((await post(gw.url, body, { authorization: 'Bearer sk-tenant-b' })).res.headers.get('x-cache'), 'MISS');
      assert.equal((await post(gw.url, body, { authorization: 'Bearer sk-tenant-b' })).res.headers.get('x-cache'), 'HIT');
    });

    test('one body from six tenants in turn: each keeps its own entry', async () => {
      const gw = await start('cache: {}');
      const body = { model: MODEL, messages: [{ role: 'user', content: 'six tenants' }] };
      const tenants = Array.from({ length: 6 }, (_, i) => ({ authorization: `Bearer sk-six-${i}` }));
      const calls = fx.upstream.received.length;
      for (const round of ['MISS', 'HIT', 'HIT']) {
        for (const headers of tenants) assert.equal((await post(gw.url, body, headers)).res.headers.get('x-cache'), round);
      }
      assert.equal(fx.upstream.received.length, calls + 6);
      assert.deepEqual(
        fx.upstream.received.slice(calls).map((r) => r.headers.authorization),
        tenants.map((t) => t.authorization),
      );
    });

    test('a streamed response is recorded and replayed through the openai SDK', async () => {
      const gw = await start('cache: {}');
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-stream', maxRetries: 0 });
      const request = { model: MODEL, messages: [{ role: 'user' as const, content: 'stream me' }], stream: true as const };
      fx.upstream.script(steps.sse([chunk(MODEL, 'Hel'), chunk(MODEL, 'lo, '), chunk(MODEL, 'cache'), chunk(MODEL, null, 'stop')]));
      const calls = fx.upstream.received.length;
      const read = async () => {
        const { data, response } = await client.chat.completions.create(request).withResponse();
        let text = '';
        let finish: string | null = null;
        for await (const event of data) {
          text += event.choices[0]?.delta.content ?? '';
          finish = event.choices[0]?.finish_reason ?? finish;
        }
        return { text, finish, cache: response.headers.get('x-cache'), type: response.headers.get('content-type') };
      };
      assert.deepEqual(await read(), { text: 'Hello, cache', finish: 'stop', cache: 'MISS', type: 'text/event-stream' });
      assert.deepEqual(await read(), { text: 'Hello, cache', finish: 'stop', cache: 'HIT', type: 'text/event-stream' });
      assert.equal(fx.upstream.received.length, calls + 1);
    });

    test('a stored JSON completion answers a streaming request as SSE', async () => {
      const gw = await start('cache: {}');
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-json', maxRetries: 0 });
      const messages = [{ role: 'user' as const, content: 'json first' }];
      fx.upstream.script(steps.json(200, chatCompletion(MODEL, 'stored as JSON')));
      const plain = await client.chat.completions.create({ model: MODEL, messages });
      assert.equal(plain.choices[0]!.message.content, 'stored as JSON');
      const calls = fx.upstream.received.length;
      const { data, response } = await client.chat.completions.create({ model: MODEL, messages, stream: true }).withResponse();
      assert.equal(response.headers.get('x-cache'), 'HIT');
      let text = '';
      const events = [];
      for await (const event of data) {
        events.push(event);
        text += event.choices[0]?.delta.content ?? '';
      }
      assert.equal(text, 'stored as JSON');
      assert.equal(events.at(-1)!.choices[0]!.finish_reason, 'stop');
      assert.ok(events.every((e) => !e.usage), 'no usage event unless asked');
      assert.equal(fx.upstream.received.length, calls);
    });

    test('a stored JSON message answers a streaming Messages request as SSE, through the Anthropic SDK', async () => {
      const gw = await start('cache: {}');
      const client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-json', maxRetries: 0 });
      const params = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: 'a message first as JSON' }] };
      fx.upstream.script(steps.json(200, chatCompletion(MODEL, 'stored as a message')));
      const plain = await client.messages.create(params);
      assert.equal(plain.content[0]?.type === 'text' && plain.content[0].text, 'stored as a message');
      const calls = fx.upstream.received.length;
      const { data, response } = await client.messages.create({ ...params, stream: true }).withResponse();
      assert.equal(response.headers.get('x-cache'), 'HIT');
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const types: string[] = [];
      let text = '';
      let stop: string | null = null;
      let outputTokens = -1;
      for await (const event of data) {
        types.push(event.type);
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
        if (event.type === 'message_delta') {
          stop = event.delta.stop_reason;
          outputTokens = event.usage.output_tokens;
        }
      }
      assert.deepEqual(types, ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
      assert.equal(text, 'stored as a message');
      assert.equal(stop, plain.stop_reason);
      assert.equal(outputTokens, plain.usage.output_tokens);
      assert.equal(fx.upstream.received.length, calls, 'answered from the cache');
    });

    test('Cache-Control: no-cache skips the lookup, no-store skips storing; errors are not stored', async () => {
      const gw = await start('cache: {}');
      const body = { model: MODEL, messages: [{ role: 'user', content: 'directives' }] };
      assert.equal((await post(gw.url, body, { 'cache-control': 'no-store' })).res.headers.get('x-cache'), 'MISS');
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'MISS', 'no-store stored nothing');
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'HIT');
      assert.equal((await post(gw.url, body, { 'cache-control': 'no-cache' })).res.headers.get('x-cache'), 'MISS');

      const failing = { model: MODEL, messages: [{ role: 'user', content: 'fails' }] };
      fx.upstream.script(steps.json(500, { error: { message: 'boom', type: 'api_error', param: null, code: null } }));
      assert.equal((await post(gw.url, failing)).res.status, 500);
      const again = await post(gw.url, failing);
      assert.equal(again.res.status, 200);
      assert.equal(again.res.headers.get('x-cache'), 'MISS', 'a 500 is not a cacheable status');
    });

    test('DELETE /cache empties one router (?router=) or all', async () => {
      const gw = await start('cache: {}', new Clock(), OTHER_ROUTER);
      const body = { model: MODEL, messages: [{ role: 'user', content: 'delete me' }] };
      const other = (b: unknown) => post(gw.url, b, {}, '/router/other/v1/chat/completions');
      await post(gw.url, body);
      await other(body);
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'HIT');
      assert.equal((await other(body)).res.headers.get('x-cache'), 'HIT');

      const one = await fetch(`${gw.adminUrl}/cache?router=other`, { method: 'DELETE' });
      assert.equal(one.status, 200);
      assert.deepEqual(await one.json(), { router: 'other', removed: 1 });
      assert.equal((await other(body)).res.headers.get('x-cache'), 'MISS');
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'HIT', 'the other router keeps its entries');

      const all = await fetch(`${gw.adminUrl}/cache`, { method: 'DELETE' });
      assert.deepEqual(await all.json(), { router: null, removed: 2 });
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'MISS');

      const unknown = await fetch(`${gw.adminUrl}/cache?router=nope`, { method: 'DELETE' });
      assert.equal(unknown.status, 404);
      assert.equal(((await unknown.json()) as any).error.code, 'router_not_found');
      assert.equal((await fetch(`${gw.adminUrl}/cache`)).status, 405);
    });

    test('a reload keeps the cache of an unchanged router', async () => {
      const yaml = featureYaml(fx.upstream.url, 'cache: {}', { state: fx.state() });
      const gw = await fx.start(yaml);
      const body = { model: MODEL, messages: [{ role: 'user', content: 'reload' }] };
      await post(gw.url, body);
      await gw.gateway.reload({ yaml: yaml.replace('logging: { level: silent }', 'logging: { level: silent, access: false }') });
      assert.equal((await post(gw.url, body)).res.headers.get('x-cache'), 'HIT');
    });

    if (backend === 'memory') {
      test('the LRU evicts at max_size, counting the real size of entries; max_entry caps one entry', async () => {
        const gw = await start('cache: { max_size: 4kb, max_entry: 2kb }');
        const big = (n: number) => steps.json(200, chatCompletion(MODEL, `${n}`.repeat(1000)));
        const ask = (n: number) => post(gw.url, { model: MODEL, messages: [{ role: 'user', content: `evict ${n}` }] });
        for (const n of [1, 2, 3]) {
          fx.upstream.script(big(n));
          assert.equal((await ask(n)).res.headers.get('x-cache'), 'MISS');
        }
        assert.equal((await ask(3)).res.headers.get('x-cache'), 'HIT');
        assert.equal((await ask(2)).res.headers.get('x-cache'), 'HIT');
        const stats = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.cache;
        assert.equal(stats.entries, 2);
        assert.equal(stats.evictions, 1);
        assert.ok(stats.bytes <= 4 * 1024 && stats.bytes > 2 * 1000, `bytes ${stats.bytes}`);
        fx.upstream.script(big(1));
        assert.equal((await ask(1)).res.headers.get('x-cache'), 'MISS', 'the least recently used went first');

        fx.upstream.script(steps.json(200, chatCompletion(MODEL, 'x'.repeat(3000))));
        const huge = { model: MODEL, messages: [{ role: 'user', content: 'huge' }] };
        assert.equal((await post(gw.url, huge)).res.headers.get('x-cache'), 'MISS');
        assert.equal((await post(gw.url, huge)).res.headers.get('x-cache'), 'MISS', 'over max_entry: never stored');
      });
    }
  });
}
