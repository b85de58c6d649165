import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { INJECT_DEPTH_HEADER, MAX_INJECT_DEPTH } from '../../src/server/inject.js';
import { startGateway, type Running } from '../support/gateway.js';

describe('gateway.inject: a request through the live pipeline, in process', () => {
  let gw: Running;
  before(async () => {
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  local: { provider: mock }
routers:
  demo: { targets: [{ upstream: local, model: mock-1 }], features: { cache: {} } }
`);
  });
  after(() => gw.close());

  test('answers like the data plane, through the same stages', async () => {
    const request = { url: '/v1/chat/completions', body: { model: 'demo', messages: [{ role: 'user', content: 'ping' }] } };
    const first = await gw.gateway.inject(request);
    assert.equal(first.status, 200);
    assert.equal(first.json<any>().choices[0].message.content, 'This is the mock upstream. You said: ping');
    assert.equal(first.headers['x-cache'], 'MISS');
    const second = await gw.gateway.inject(request);
    assert.equal(second.headers['x-cache'], 'HIT');
    assert.deepEqual(second.body, first.body);
  });

  test('collects a whole stream', async () => {
    const res = await gw.gateway.inject({ url: '/router/demo/v1/chat/completions', body: { model: 'x', stream: true, messages: [{ role: 'user', content: 'a b' }] } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /text\/event-stream/);
    assert.ok(res.body.toString().trimEnd().endsWith('data: [DONE]'));
  });

  test('refuses to nest deeper than the bound', async () => {
    await assert.rejects(
      gw.gateway.inject({ url: '/v1/chat/completions', headers: { [INJECT_DEPTH_HEADER]: String(MAX_INJECT_DEPTH) }, body: { model: 'demo', messages: [] } }),
      /nest at most/,
    );
  });
});
