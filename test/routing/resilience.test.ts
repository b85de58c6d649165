import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream, deadPort, chunk, eventually, sleep, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

function chat(gw: Running, router: string, body: Record<string, unknown> = {}) {
  return fetch(`${gw.url}/router/${router}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

const error503 = steps.json(503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } });
const error500 = steps.json(500, { error: { message: 'boom', type: 'server_error', param: null, code: null } });

describe('retry, fallback and timeouts', () => {
  let a: MockUpstream;
  let b: MockUpstream;
  let dead: number;
  let gw: Running;

  before(async () => {
    a = await MockUpstream.start();
    b = await MockUpstream.start();
    dead = await deadPort();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  a: { provider: openai, url: ${a.url} }
  b: { provider: openai, url: ${b.url} }
  dead: { provider: openai, url: "http://127.0.0.1:${dead}" }
routers:
  retrying:
    targets: [{ upstream: a }]
    features:
      retry: { attempts: 2, backoff: 10ms, max_backoff: 20ms }
  patient:
    targets: [{ upstream: a }]
    features:
      retry: { attempts: 2, backoff: 10ms, max_retry_after: 2s }
  from_dead:
    targets: [{ upstream: dead }, { upstream: b }]
    features: { fallback: {} }
  from_500:
    targets: [{ upstream: a }, { upstream: b }]
    features: { fallback: { on: [500] } }
  streaming:
    targets: [{ upstream: a }, { upstream: b }]
    features:
      retry: { attempts: 3, backoff: 10ms }
      fallback: {}
  first_byte:
    targets: [{ upstream: a }]
    features:
      timeout: { first_byte: 150ms }
  first_byte_fallback:
    targets: [{ upstream: a }, { upstream: b }]
    features:
      timeout: { first_byte: 150ms }
      fallback: {}
  idle:
    targets: [{ upstream: a }]
    features:
      timeout: { idle: 400ms }
  total:
    targets: [{ upstream: a }]
    features:
      timeout: { total: 200ms }
`);
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  test('503 then 200 is answered with 2 attempts, through the openai SDK', async () => {
    a.script(error503, steps.chat('second time lucky'));
    const before = a.received.length;
    const client = new OpenAI({ baseURL: `${gw.url}/router/retrying/v1`, apiKey: 'k', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'second time lucky');
    assert.equal(a.received.length - before, 2);
    assert.equal(response.headers.get('x-sidegate-attempts'), '2');
    assert.equal(response.headers.get('x-sidegate-target'), 'a');
    const metrics = (await gw.gateway.metricsText()).body;
    assert.match(metrics, /ai_gateway_retries_total\{router="retrying",upstream="a"\} 1/);
    assert.match(metrics, /ai_gateway_upstream_attempts_total\{router="retrying",upstream="a",outcome="503"\} 1/);
  });

  test('attempts are a limit: 503 twice is passed on', async () => {
    a.script(error503, error503);
    const res = await chat(gw, 'retrying');
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('x-sidegate-attempts'), '2');
    assert.equal(((await res.json()) as any).error.message, 'overloaded');
  });

  test('Retry-After: 1 is honoured', async () => {
    a.script(steps.json(429, { error: { message: 'slow down', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '1' }), steps.chat());
    const before = a.received.length;
    const res = await chat(gw, 'patient');
    assert.equal(res.status, 200);
    const [first, second] = a.received.slice(before);
    assert.ok(second!.at - first!.at >= 990, `waited only ${second!.at - first!.at} ms`);
  });

  test('a Retry-After beyond max_retry_after is passed to the client instead', async () => {
    a.script(steps.json(429, { error: { message: 'later', type: 'requests', param: null, code: 'rate_limit_exceeded' } }, { 'retry-after': '60' }));
    const before = a.received.length;
    const res = await chat(gw, 'patient');
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '60');
    assert.equal(a.received.length - before, 1);
  });

  test('PATCH is never retried', async () => {
    a.script(error503);
    const before = a.received.length;
    const res = await fetch(`${gw.url}/router/retrying/v1/fine_tuning/jobs/x`, { method: 'PATCH', body: '{}' });
    assert.equal(res.status, 503);
    assert.equal(a.received.length - before, 1);
  });

  test('fallback from a dead port to the next target', async () => {
    const res = await chat(gw, 'from_dead');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-target'), 'b');
    assert.equal(res.headers.get('x-sidegate-attempts'), '2');
  });

  test('fallback from a 500 target to the next', async () => {
    a.script(error500);
    const res = await chat(gw, 'from_500');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-target'), 'b');
  });

  test('streaming + fallback through the openai SDK', async () => {
    a.script(error503, error503, error503);
    b.script(steps.sse([chunk('gpt-4o', 'from '), chunk('gpt-4o', 'b')]));
    const client = new OpenAI({ baseURL: `${gw.url}/router/streaming/v1`, apiKey: 'k', maxRetries: 0 });
    let text = '';
    for await (const e of await client.chat.completions.create({ model: 'gpt-4o', messages: [], stream: true })) {
      text += e.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'from b');
  });

  test('no retry once a stream’s first byte reached the client', async () => {
    a.script(steps.sseThenReset([chunk('gpt-4o', 'partial')]));
    const before = a.received.length + b.received.length;
    const res = await chat(gw, 'streaming', { stream: true });
    const text = await res.text();
    assert.match(text, /"partial"/);
    assert.match(text, /event: error\ndata: .*"code":"stream_error"/);
    assert.equal(a.received.length + b.received.length - before, 1);
  });

  test('first_byte timeout: 504 upstream_timeout', async () => {
    a.script(steps.hang());
    const res = await chat(gw, 'first_byte');
    assert.equal(res.status, 504);
    assert.equal(((await res.json()) as any).error.code, 'upstream_timeout');
    await a.received.at(-1)!.aborted;
  });

  test('first_byte timeout is a failure fallback acts on', async () => {
    a.script(steps.hang());
    const res = await chat(gw, 'first_byte_fallback');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-target'), 'b');
  });

  test('idle timeout mid-stream ends the stream with an SSE error event', async () => {
    a.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk('gpt-4o', 'one'))}\n\n`);
      await sleep(2000); // well past the idle limit, even on a loaded machine
      res.end();
    });
    const res = await chat(gw, 'idle', { stream: true });
    const text = await res.text();
    assert.match(text, /"one"/);
    assert.match(text, /event: error\ndata: .*"code":"upstream_timeout"/);
  });

  test('total timeout: 504 before the answer starts', async () => {
    a.script(steps.hang());
    const res = await chat(gw, 'total');
    assert.equal(res.status, 504);
    assert.match(((await res.json()) as any).error.message, /timeout\.total \(200ms\)/);
  });
});

describe('hedging', () => {
  let slow: MockUpstream;
  let fast: MockUpstream;
  let gw: Running;

  before(async () => {
    slow = await MockUpstream.start(steps.delay(2000, steps.chat('slow')));
    fast = await MockUpstream.start(steps.chat('fast'));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  slow: { provider: openai, url: ${slow.url} }
  fast: { provider: openai, url: ${fast.url} }
routers:
  hedged:
    targets: [{ upstream: slow }, { upstream: fast }]
    features: { hedging: { after: 50ms } }
`);
  });
  after(async () => {
    await gw.close();
    await slow.close();
    await fast.close();
  });

  test('a slow first target is hedged; the first answer wins and the loser is aborted', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/router/hedged/v1`, apiKey: 'k', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: [] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'fast');
    assert.equal(response.headers.get('x-sidegate-target'), 'fast');
    await slow.received.at(-1)!.aborted; // the loser's upstream saw the abort
    const metrics = (await gw.gateway.metricsText()).body;
    assert.match(metrics, /ai_gateway_hedges_total\{router="hedged",result="won"\} 1/);
  });
});

describe('health_check', () => {
  let bad: MockUpstream;
  let good: MockUpstream;
  let gw: Running;
  const stats = async (router: string) => ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers[router].health_check.targets;

  before(async () => {
    bad = await MockUpstream.start(error500);
    good = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  bad: { provider: openai, url: ${bad.url} }
  good: { provider: openai, url: ${good.url} }
routers:
  passive:
    targets: [{ upstream: bad }, { upstream: good }]
    features:
      fallback: {}
      health_check: { failures: 2, window: 10s, cooldown: 300ms }
  active:
    targets: [{ upstream: bad }, { upstream: good }]
    features:
      health_check: { interval: 30ms, path: /health, unhealthy_after: 2, healthy_after: 2 }
`);
  });
  after(async () => {
    await gw.close();
    await bad.close();
    await good.close();
  });

  test('a target is ejected after failures and readmitted after its cooldown', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await chat(gw, 'passive');
      assert.equal(res.headers.get('x-sidegate-attempts'), '2', 'the failing target was tried, then the next');
      await res.arrayBuffer();
    }
    assert.equal((await stats('passive'))[0].circuit, 'open');
    const skipped = await chat(gw, 'passive');
    assert.equal(skipped.headers.get('x-sidegate-attempts'), '1', 'the ejected target is skipped');
    assert.equal(skipped.headers.get('x-sidegate-target'), 'good');
    await skipped.arrayBuffer();

    bad.fallback = steps.chat('recovered');
    await sleep(350); // the cooldown passes
    assert.equal((await stats('passive'))[0].circuit, 'half_open');
    const test = await chat(gw, 'passive');
    assert.equal(test.headers.get('x-sidegate-target'), 'bad', 'one request tests the half-open target');
    await test.arrayBuffer();
    assert.equal((await stats('passive'))[0].circuit, 'closed');
    const metrics = (await gw.gateway.metricsText()).body;
    assert.match(metrics, /ai_gateway_circuit_state\{router="passive",upstream="bad"\} 0/);
    bad.fallback = error500;
  });

  test('active probes mark a target down, then up again', async () => {
    bad.fallback = (req, res) => (req.url === '/health' ? error503(req, res) : steps.chat()(req, res));
    await eventually('bad is down', async () => (await stats('active'))[0].probe === 'down');
    const res = await chat(gw, 'active');
    assert.equal(res.headers.get('x-sidegate-target'), 'good');
    await res.arrayBuffer();
    const metrics = (await gw.gateway.metricsText()).body;
    assert.match(metrics, /ai_gateway_target_healthy\{router="active",upstream="bad"\} 0/);

    bad.fallback = steps.auto();
    await eventually('bad is up', async () => (await stats('active'))[0].probe === 'up');
    const back = await chat(gw, 'active');
    assert.equal(back.headers.get('x-sidegate-target'), 'bad');
    await back.arrayBuffer();
  });
});

describe('request_coalescing', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start(steps.delay(100, steps.chat('shared answer')));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
routers:
  main:
    targets: [{ upstream: up }]
    features: { request_coalescing: {} }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('ten identical concurrent requests make one upstream call; each gets the answer', async () => {
    const before = upstream.received.length;
    const answers = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        // Key order differs between callers: the canonical body is the same.
        const body = i % 2 ? { messages: [{ content: 'same', role: 'user' }], model: 'gpt-4o' } : { model: 'gpt-4o', messages: [{ role: 'user', content: 'same' }] };
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer same-key' },
          body: JSON.stringify({ ...body, model: 'main' }),
        });
        return ((await res.json()) as any).choices[0].message.content;
      }),
    );
    assert.deepEqual(answers, Array(10).fill('shared answer'));
    assert.equal(upstream.received.length - before, 1);
  });

  test('different callers (authorization) do not share', async () => {
    const before = upstream.received.length;
    await Promise.all(
      ['Bearer one', 'Bearer two'].map(async (authorization) => {
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ model: 'main', messages: [] }),
        });
        await res.arrayBuffer();
      }),
    );
    assert.equal(upstream.received.length - before, 2);
  });
});
