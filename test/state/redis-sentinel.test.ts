/**
 * `state.redis.sentinels`: the gateway asks a Redis Sentinel (a local `redis-server
 * --sentinel`) where the primary named `name` is, and keeps its counters there.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { featureYaml, freePorts, RedisServer, REDIS_SKIP } from '../support/redis.js';

/** A sentinel watching `primary` as `name`; resolves once it monitors it. */
async function startSentinel(port: number, primary: number, name: string, dir: string): Promise<ChildProcess> {
  const conf = join(dir, 'sentinel.conf');
  // The sentinel rewrites its config file as it learns; it must be its own, writable.
  writeFileSync(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${primary} 1\n`);
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes(`+monitor master ${name}`)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`sentinel exited (${code}): ${output}`)));
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

describe('state through Redis Sentinel', { skip: REDIS_SKIP }, () => {
  let primary: RedisServer;
  let sentinel: ChildProcess;
  let upstream: MockUpstream;
  let gw: Running;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-sentinel-'));
    primary = await RedisServer.start();
    const [sentinelPort] = await freePorts(1);
    sentinel = await startSentinel(sentinelPort, primary.port, 'sgprimary', dir);
    upstream = await MockUpstream.start();
    const state = `state:\n  backend: redis\n  redis: { sentinels: ["127.0.0.1:${sentinelPort}"], name: sgprimary, prefix: "sn:", timeout: 2s }\n`;
    gw = await startGateway(featureYaml(upstream.url, 'rate_limit: { requests: 2, per: 1m, key: global }', { state }));
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
    if (sentinel) {
      const exited = once(sentinel, 'exit');
      sentinel.kill('SIGKILL');
      await exited;
    }
    await primary?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (): Promise<Response> =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

  test('the rate limit is kept on the primary the sentinel names', async () => {
    assert.equal(gw.gateway.state.health().redis, 'up');
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const res = await post();
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    const keys = spawnSync('redis-cli', ['-p', String(primary.port), '--scan', '--pattern', 'sn:*'], { encoding: 'utf8' }).stdout.trim().split('\n');
    assert.ok(keys.some((k) => k.includes('rl:main')), `the bucket is on the primary: ${keys.join(', ')}`);
  });
});
