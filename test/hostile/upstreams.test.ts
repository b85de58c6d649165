/**
 * What an upstream (or the gateway's own shutdown) can do to a response: one endless SSE
 * event, a connection reset before any byte, an outright failure, and the drain cut.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { drained } from '../../src/util/drained.js';

const STREAM = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });

async function readAll(res: Response): Promise<string> {
  return Buffer.from(await res.arrayBuffer()).toString('utf8');
}

describe('hostile upstreams', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
server: { max_event: 64kb }
upstreams:
  first: { provider: openai, url: ${upstream.url} }
  second: { provider: openai, url: ${upstream.url}/second }
routers:
  m:
    targets: [{ upstream: first }, { upstream: second }]
    features: { fallback: {} }
  single:
    targets: [{ upstream: first }]
  events:
    targets: [{ upstream: first }]
    features: { rate_limit: { requests: 1000, per: 1m, tokens: 1000000 } }   # reads every event (usage)
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('one SSE event larger than server.max_event, with no end, to a router that reads events: the stream ends with an SSE error event', async () => {
    upstream.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk('m', 'ok'))}\n\n`);
      const piece = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 64 && !res.destroyed; i++) {
        if (!res.write(i === 0 ? `data: ${piece}` : piece)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    });
    const res = await fetch(`${gw.url}/router/events/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: STREAM });
    assert.equal(res.status, 200);
    const text = await readAll(res);
    assert.equal(
      text,
      `data: ${JSON.stringify(chunk('m', 'ok'))}\n\nevent: error\ndata: ${JSON.stringify({
        error: {
          message: "The upstream sent a server-sent event larger than the gateway's limit of 65536 bytes (server.max_event).",
          type: 'api_error',
          param: null,
          code: 'stream_error',
        },
      })}\n\n`,
    );
  });

  test('the openai SDK raises that error event', async () => {
    upstream.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${'y'.repeat(100 * 1024)}`);
      res.end();
    });
    const client = new OpenAI({ baseURL: `${gw.url}/router/events/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) void _;
      })(),
      /server\.max_event/,
    );
  });

  test('events split across many small chunks, with \\r\\n line ends, arrive whole and in order', async () => {
    const events = [chunk('m', 'a'), chunk('m', 'b'), chunk('m', 'c')].map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('') + 'data: [DONE]\r\n\r\n';
    upstream.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < events.length; i += 3) res.write(events.slice(i, i + 3));
      res.end();
    });
    const res = await fetch(`${gw.url}/router/events/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: STREAM });
    assert.equal(await readAll(res), events);
  });

  test('a connection reset before any response byte fails over like a refused connection', async () => {
    const before = upstream.received.length;
    upstream.script((_req, res) => void res.socket!.resetAndDestroy(), steps.chat('from the second'));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-target'), 'second');
    assert.equal(res.headers.get('x-sidegate-attempts'), '2');
    assert.equal(((await res.json()) as any).choices[0].message.content, 'from the second');
    assert.deepEqual(upstream.received.slice(before).map((r) => r.url), ['/v1/chat/completions', '/second/v1/chat/completions']);
  });

  test("a gateway-made 502 says which target was tried and how many times", async () => {
    upstream.script((_req, res) => void res.socket!.resetAndDestroy());
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'single', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-sidegate-target'), 'first');
    assert.equal(res.headers.get('x-sidegate-attempts'), '1');
    assert.equal(((await res.json()) as any).error.code, 'upstream_connect_error');
  });
});

describe('the drain cut', () => {
  test('a stream still running when server.drain is over ends with an SSE error event, not a bare reset', async () => {
    const upstream = await MockUpstream.start();
    upstream.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify(chunk('m', 'first'))}\n\n`); // and then nothing, until cut
    });
    const gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams: { up: { provider: openai, url: ${upstream.url} } }
default_router: m
routers: { m: { targets: [{ upstream: up }] } }
`);
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: STREAM });
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(Buffer.from(first.value!).toString(), `data: ${JSON.stringify(chunk('m', 'first'))}\n\n`);
    const closed = gw.gateway.close({ drainMs: 50 });
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    await closed;
    await upstream.close();
    assert.equal(
      rest,
      `event: error\ndata: ${JSON.stringify({
        error: { message: 'The gateway is shutting down: the drain time (server.drain) is over.', type: 'api_error', param: null, code: 'unavailable' },
      })}\n\n`,
    );
  });
});

describe('answers held whole are bounded', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams: { up: { provider: openai, url: ${upstream.url} } }
routers:
  shared:
    targets: [{ upstream: up }]
    features: { request_coalescing: {} }
  rewritten:
    targets: [{ upstream: up }]
    interceptors: [{ pii_detector: { action: redact, on: response } }]
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  /** A chat answer of about `bytes` bytes, written with backpressure until the gateway hangs up. */
  const huge = (bytes: number) => async (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"');
    const piece = 'a'.repeat(1024 * 1024);
    for (let sent = 0; sent < bytes && !res.destroyed; sent += piece.length) {
      if (!res.write(piece)) await drained(res);
    }
    if (!res.destroyed) res.end('"},"finish_reason":"stop"}]}');
  };

  for (const [router, why] of [['shared', 'too large to share'], ['rewritten', 'too large to read whole']] as const) {
    test(`an upstream answer past 32 MB to a router that holds it whole (${router}) is a 502 that says so, and the next request is answered`, async () => {
      upstream.script(huge(40 * 1024 * 1024), steps.chat('small again'));
      const ask = () => fetch(`${gw.url}/router/${router}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
      });
      const res = await ask();
      assert.equal(res.status, 502);
      const error = ((await res.json()) as any).error;
      assert.equal(error.code, 'upstream_error');
      assert.match(error.message, new RegExp(`larger than 33554432 bytes, ${why}`));
      const next = await ask();
      assert.equal(next.status, 200);
      assert.equal(((await next.json()) as any).choices[0].message.content, 'small again');
    });
  }
});
