/**
 * `state.redis.nodes`: a three-node Redis Cluster of local redis-server processes. Every
 * script (rate-limit buckets, budget reserve and settle) touches keys of one hash slot, so
 * the cluster runs them without CROSSSLOT errors and no operation falls back to local.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUpstream, eventually } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { freePorts, REDIS_SKIP } from '../support/redis.js';
import { hashKey } from '../../src/tenancy/key-table.js';

async function startNode(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

const KEY = 'sk-sg-cluster-key';

describe('state on a three-node Redis Cluster', { skip: REDIS_SKIP }, () => {
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidegate-cluster-'));
    ports.push(...(await freePorts(3)));
    for (const port of ports) nodes.push(await startNode(port, dir));
    const created = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
    assert.equal(created.status, 0, created.stdout + created.stderr);
    // The nodes agree on the slots a moment after `create` returns.
    await eventually('the cluster is ok on every node', () =>
      ports.every((p) => spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' }).stdout.includes('cluster_state:ok')),
    );
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
state:
  backend: redis
  redis: { nodes: [${ports.map((p) => `"127.0.0.1:${p}"`).join(', ')}], prefix: "cl:", timeout: 2s }
pricing:
  priced-model: { input: 1000000, output: 1000000 }
upstreams:
  up: { provider: openai, url: ${upstream.url}, auth: { bearer: sk-provider } }
auth:
  keys:
    - { name: app, sha256: "${hashKey(KEY)}", team: t, rate_limit: { requests: 3, per: 1m }, budget: { usd: 20, period: day } }
teams:
  t: { rate_limit: { requests: 100, per: 1m, tokens: 100000 } }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      rate_limit: { requests: 100, per: 1m, key: key, tokens: 100000 }
      budget: { usd: 100, period: month, scope: team }
      cache: { scope: key }
`);
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    for (const node of nodes) {
      const exited = once(node, 'exit');
      node.kill('SIGKILL');
      await exited;
    }
  });

  const post = (content: string): Promise<Response> =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'priced-model', messages: [{ role: 'user', content }] }),
    });

  test('rate limits, budgets and the cache work across the cluster\'s slots', async () => {
    assert.equal(gw.gateway.state.health().redis, 'up');
    const first = await post('one');
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-cache'), 'MISS');
    assert.equal(first.headers.get('x-ratelimit-remaining-requests'), '2', 'the key\'s own limit is the tightest');
    await first.arrayBuffer();
    const again = await post('one');
    assert.equal(again.headers.get('x-cache'), 'HIT');
    await again.arrayBuffer();
    const third = await post('three');
    assert.equal(third.status, 200, '$8 of $20: under budget');
    await third.arrayBuffer();
    const fourth = await post('four');
    assert.equal(fourth.status, 429, 'the key\'s three requests a minute are used');
    assert.match(((await fourth.json()) as any).error.message, /on key "app"/);

    const keys = (await (await fetch(`${gw.adminUrl}/keys`)).json()) as any;
    assert.equal(keys.keys[0].spend.spend_usd, 16);
    assert.equal(keys.teams.t.spend.spend_usd, 16);
    const cleared = (await (await fetch(`${gw.adminUrl}/cache`, { method: 'DELETE' })).json()) as any;
    assert.ok(cleared.removed >= 2, `cache entries removed from every primary: ${JSON.stringify(cleared)}`);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.doesNotMatch(metrics, /ai_gateway_state_failures_total\{/, 'no operation fell back to local counters');
  });
});
