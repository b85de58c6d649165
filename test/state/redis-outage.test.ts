import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { featureYaml, REDIS_SKIP, RedisServer, redisState } from '../support/redis.js';

const FEATURES = 'rate_limit: { requests: 1000, per: 1h, key: global }\ncache: {}\nbudget: { usd: 100, period: day }';
// Per hour: a bucket key lives 3.6 s after one request (per minute, 60 ms: gone before a loaded machine reads it back).

function ask(url: string, content: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
  });
}

async function readyz(gw: Running): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.adminUrl}/readyz`);
  return { status: res.status, body: await res.json() };
}

describe('a Redis outage', { skip: REDIS_SKIP }, () => {
  let upstream: MockUpstream;
  let redis: RedisServer;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    redis = await RedisServer.start();
    gw = await startGateway(featureYaml(upstream.url, FEATURES, { state: redisState(redis, 'outage:') }));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await redis.stop();
  });

  test('Redis killed mid-test: the gateway keeps answering on local counters, says so in /readyz, and resumes when Redis returns', async () => {
    let ready = await readyz(gw);
    assert.equal(ready.status, 200);
    assert.equal(ready.body.state.backend, 'redis');
    assert.equal(ready.body.state.redis, 'up');
    const first = await ask(gw.url, 'before');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '999');
    await first.arrayBuffer();

    const down = once(gw.gateway.state, 'down');
    await redis.kill();
    await down;

    for (let i = 0; i < 3; i++) {
      const res = await ask(gw.url, 'during');
      assert.equal(res.status, 200, 'still answering');
      assert.ok(res.headers.get('x-ratelimit-remaining-requests'), 'local buckets stand in');
      await res.arrayBuffer();
    }
    const hit = await ask(gw.url, 'during');
    assert.equal(hit.headers.get('x-cache'), 'HIT', 'a local cache stands in too');
    await hit.arrayBuffer();

    ready = await readyz(gw);
    assert.equal(ready.status, 200, 'a Redis outage does not fail readiness');
    assert.equal(ready.body.state.redis, 'down');
    assert.ok(ready.body.state.failures > 0);
    assert.match(ready.body.state.down_since, /^\d{4}-\d\d-\d\dT/);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_state_redis_up 0/);
    assert.match(metrics, /ai_gateway_state_failures_total\{op="bucket"\} [1-9]/);

    const up = once(gw.gateway.state, 'up');
    await redis.restart();
    await up;
    ready = await readyz(gw);
    assert.equal(ready.body.state.redis, 'up');
    const after = await ask(gw.url, 'after');
    assert.equal(after.status, 200);
    assert.equal(after.headers.get('x-ratelimit-remaining-requests'), '999', 'counting in the (new, empty) Redis again');
    await after.arrayBuffer();
    const client = new Redis(redis.url);
    const keys = await client.keys('outage:*');
    await client.quit();
    assert.ok(keys.some((k) => k.startsWith('outage:rl:main:')), `keys: ${keys.join(', ')}`);
  });
});

describe('Redis unreachable at start', { skip: REDIS_SKIP }, () => {
  test('the gateway starts and serves on local counters', async () => {
    const upstream = await MockUpstream.start();
    const dead = await RedisServer.start();
    await dead.kill();
    const gw = await startGateway(featureYaml(upstream.url, 'rate_limit: { requests: 2, per: 1m, key: global }', { state: redisState(dead, 'dead:') }));
    try {
      for (const expected of [200, 200, 429]) {
        const res = await ask(gw.url, 'x');
        assert.equal(res.status, expected);
        await res.arrayBuffer();
      }
      const ready = await readyz(gw);
      assert.equal(ready.status, 200);
      assert.equal(ready.body.state.redis, 'down');
      const config = JSON.stringify(await (await fetch(`${gw.adminUrl}/config`)).json());
      assert.ok(config.includes('[redacted]') && !config.includes(dead.url), 'the Redis URL is a secret');
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('changing the state section on reload', { skip: REDIS_SKIP }, () => {
  test('a new store replaces the old one; an unchanged section keeps it', async () => {
    const upstream = await MockUpstream.start();
    const redis = await RedisServer.start();
    const memoryYaml = featureYaml(upstream.url, 'rate_limit: { requests: 5, per: 1m, key: global }');
    const gw = await startGateway(memoryYaml);
    try {
      const memory = gw.gateway.state;
      assert.equal(memory.backend, 'memory');
      await gw.gateway.reload({ yaml: `${memoryYaml}    aliases: [a]\n` });
      assert.equal(gw.gateway.state, memory, 'same state section, same store');
      const up = once(gw.gateway, 'reload');
      await gw.gateway.reload({ yaml: featureYaml(upstream.url, 'rate_limit: { requests: 5, per: 1m, key: global }', { state: redisState(redis, 'switch:') }) });
      await up;
      assert.equal(gw.gateway.state.backend, 'redis');
      await gw.gateway.state.ready();
      const res = await ask(gw.url, 'switched');
      assert.equal(res.headers.get('x-ratelimit-remaining-requests'), '4', 'a fresh bucket, in Redis');
      await res.arrayBuffer();
      assert.equal(gw.gateway.state.health().redis, 'up');
    } finally {
      await gw.close();
      await upstream.close();
      await redis.stop();
    }
  });
});
