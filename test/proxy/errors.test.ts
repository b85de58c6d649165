import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream, deadPort, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

function post(url: string, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return fetch(url, { method: 'POST', headers, body });
}

function errorBody(code: string, type: string, message: string, param: string | null = null) {
  return { error: { message, type, param, code } };
}

describe('gateway-made errors, in OpenAI format with exact statuses', () => {
  let upstream: MockUpstream;
  let gw: Running;
  let dead: number;

  before(async () => {
    upstream = await MockUpstream.start();
    dead = await deadPort();
    gw = await startGateway(`
version: 1
logging: { level: silent }
server: { max_body: 1kb }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
  slow: { provider: openai, url: ${upstream.url}, timeout: 200ms }
  gone: { provider: openai, url: "http://127.0.0.1:${dead}" }
routers:
  main: { targets: [{ upstream: up }] }
  slow: { targets: [{ upstream: slow }] }
  gone: { targets: [{ upstream: gone }] }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('invalid JSON → 400 invalid_json', async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, '{"model": "main",');
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.ok(res.headers.get('x-request-id'));
    assert.deepEqual(await res.json(), errorBody('invalid_json', 'invalid_request_error', 'Request body is not valid JSON.'));
  });

  test('a JSON body that is not an object → 400 invalid_request', async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, '[1,2]');
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), errorBody('invalid_request', 'invalid_request_error', 'Request body must be a JSON object.'));
  });

  test('a JSON body over server.max_body → 413, and the upstream never sees it', async () => {
    const before = upstream.received.length;
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model: 'main', messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
    assert.equal(res.status, 413);
    assert.deepEqual(
      await res.json(),
      errorBody('request_too_large', 'invalid_request_error', "Request body is larger than the gateway's limit of 1024 bytes (server.max_body)."),
    );
    assert.equal(upstream.received.length, before);
  });

  test('a pass-through upload over server.max_body → 413', async () => {
    const res = await fetch(`${gw.url}/router/main/v1/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.alloc(4096, 1),
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as any).error.code, 'request_too_large');
  });

  test('unknown router in the path → 404 router_not_found', async () => {
    const res = await post(`${gw.url}/router/nope/v1/chat/completions`, JSON.stringify({ model: 'x', messages: [] }));
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), errorBody('router_not_found', 'invalid_request_error', 'Router "nope" does not exist.', 'router'));
  });

  test('a model that names no router, with no default_router → 404 model_not_found', async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model: 'gpt-unknown', messages: [] }));
    assert.equal(res.status, 404);
    assert.deepEqual(
      await res.json(),
      errorBody('model_not_found', 'invalid_request_error', 'The model "gpt-unknown" does not exist, and no default_router is configured.', 'model'),
    );
  });

  test('a path outside /v1 → 404 not_found', async () => {
    const res = await fetch(`${gw.url}/admin/secrets`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as any).error.code, 'not_found');
  });

  test('upstream refuses the connection → 502 upstream_connect_error', async () => {
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model: 'gone', messages: [] }));
    assert.equal(res.status, 502);
    assert.deepEqual(
      await res.json(),
      errorBody('upstream_connect_error', 'api_error', 'could not connect to upstream "gone" (ECONNREFUSED)'),
    );
  });

  test('upstream sends no headers within its timeout → 504 upstream_timeout', async () => {
    upstream.script(steps.hang());
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model: 'slow', messages: [] }));
    assert.equal(res.status, 504);
    assert.deepEqual(
      await res.json(),
      errorBody('upstream_timeout', 'timeout_error', 'upstream "slow" timed out (UND_ERR_HEADERS_TIMEOUT)'),
    );
    await upstream.received.at(-1)!.aborted; // the gateway closed the hung request
  });

  test('a client that disconnects aborts the upstream request', async () => {
    const model = 'main';
    upstream.script(steps.sse(Array.from({ length: 200 }, (_, i) => chunk(model, `t${i} `)), 20));
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model, stream: true, messages: [] }));
    const reader = res.body!.getReader();
    await reader.read(); // the first event is through
    const seen = upstream.received.at(-1)!;
    await reader.cancel(); // the client goes away
    await seen.aborted; // resolves only when the upstream's connection closed early
  });

  test('an upstream that dies mid-stream ends the stream with an SSE error event', async () => {
    const model = 'main';
    upstream.script(steps.sseThenReset([chunk(model, 'partial '), chunk(model, 'answer')]));
    const res = await post(`${gw.url}/v1/chat/completions`, JSON.stringify({ model, stream: true, messages: [] }));
    assert.equal(res.status, 200);
    const text = await res.text();
    const events = text.trim().split('\n\n');
    assert.equal(events.length, 3);
    assert.match(events[0]!, /"content":"partial "/);
    assert.match(events[1]!, /"content":"answer"/);
    const last = events[2]!.split('\n');
    assert.equal(last[0], 'event: error');
    const error = JSON.parse(last[1]!.replace(/^data: /, ''));
    assert.equal(error.error.code, 'stream_error');
    assert.equal(error.error.type, 'api_error');
  });

  test('the openai SDK raises the mid-stream error after the deltas it got', async () => {
    const model = 'main';
    upstream.script(steps.sseThenReset([chunk(model, 'partial')]));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'x' }] });
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const e of stream) seen.push(e.choices[0]?.delta.content ?? '');
    }, /ended the stream early/);
    assert.deepEqual(seen, ['partial']);
  });
});
