/**
 * A Redis that hangs (SIGSTOP: the connection stays open, nothing answers) is worse than
 * one that is gone: no reconnect event says so. The store's circuit breaker marks it down
 * on the first timeouts, every later operation is answered locally without waiting, and a
 * background probe brings Redis back once it answers again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { MockUpstream, eventually } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { featureYaml, REDIS_SKIP, RedisServer } from '../support/redis.js';

const FEATURES = 'rate_limit: { requests: 1000, per: 1m, key: global }\ncache: {}\nbudget: { usd: 100, period: day }';

function ask(url: string, content: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
  });
}

async function failures(gw: Running): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  return [...text.matchAll(/^ai_gateway_state_failures_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('a hung Redis', { skip: REDIS_SKIP }, () => {
  let upstream: MockUpstream;
  let redis: RedisServer;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    redis = await RedisServer.start();
    const state = `state:\n  backend: redis\n  redis: { url: "${redis.url}", prefix: "hang:", timeout: 250ms }\n`;
    gw = await startGateway(featureYaml(upstream.url, FEATURES, { state }));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await redis.stop();
  });

  test('is marked down after the first timeout, /readyz says so, requests go local, and it comes back when thawed', async () => {
    const warm = await ask(gw.url, 'warm');
    assert.equal(warm.status, 200);
    await warm.arrayBuffer();

    redis.pause();
    const down = once(gw.gateway.state, 'down');
    const first = await ask(gw.url, 'first while hung');
    assert.equal(first.status, 200, 'answered from local counters');
    await first.arrayBuffer();
    await down;

    const ready = (await (await fetch(`${gw.adminUrl}/readyz`)).json()) as any;
    assert.equal(ready.state.redis, 'down');
    assert.equal(ready.state.last_error, 'Command timed out');

    // Marked down: each feature's operation is answered locally at once and counted,
    // without another command sent to the hung server.
    const counted = await failures(gw);
    for (let i = 0; i < 3; i++) {
      const res = await ask(gw.url, `during ${i}`);
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('x-ratelimit-remaining-requests'));
      await res.arrayBuffer();
    }
    assert.ok((await failures(gw)) >= counted + 3 * 3, 'rate limit, budget and cache each fell back per request');

    const up = once(gw.gateway.state, 'up');
    redis.resume();
    await up; // the background probe saw it answer
    await eventually('readyz says up', async () => ((await (await fetch(`${gw.adminUrl}/readyz`)).json()) as any).state.redis === 'up');
    const after = await ask(gw.url, 'after');
    assert.equal(after.status, 200);
    await after.arrayBuffer();
  });
});
