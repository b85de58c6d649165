/**
 * A reload of a large config: the loader thread's result comes back in pieces, is frozen
 * in steps, compiled and compared with the running config in slices, and the admin
 * documents that grow with it (/config, /stats) are rendered in slices. What the gateway
 * ends up with must be exactly what a synchronous load of the same text gives.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { loadConfigText } from '../../src/index.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

const SECRET = 'sk-upstream-secret-3f9a';
const ENV = { ...process.env, LARGE_UPSTREAM_KEY: SECRET };
const ROUTERS = 300;
const KEYS = 300;
const PRICES = 1000;
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Revision `rev` has ROUTERS + rev routers; router rev % ROUTERS carries an extra alias. */
function largeConfig(upstreamUrl: string, rev: number): string {
  const lines = [
    'version: 1',
    'logging: { level: info }',
    'upstreams:',
    `  up: { provider: openai, url: ${upstreamUrl}, auth: { bearer: "\${LARGE_UPSTREAM_KEY}" } }`,
    `  other: { provider: openai, url: "${upstreamUrl}?key=query-secret", auth: { bearer: sk-other-literal } }`,
    'defaults:',
    '  features:',
    '    timeout: { connect: 5s, first_byte: 60s, idle: 60s }',
    'default_router: r0',
    'routers:',
  ];
  for (let r = 0; r < ROUTERS + rev; r++) {
    const aliases = [`alias-${r}`, ...(r === rev % ROUTERS ? [`rev-${rev}`] : [])];
    lines.push(`  r${r}:`, `    aliases: [${aliases.join(', ')}]`, '    strategy: failover', '    targets:', '      - { upstream: up }', '      - { upstream: other, model: gpt-4o-mini }');
    if (r % 3 === 0) lines.push('    features: { retry: { attempts: 2, backoff: 10ms } }');
  }
  lines.push('pricing:', '  "__proto__": { input: 9, output: 9 }');
  for (let p = 0; p < PRICES; p++) lines.push(`  model-${p}: { input: ${p + 1}, output: ${2 * p + 1} }`);
  lines.push('teams:', '  team-a: {}', '  team-b: {}', 'auth:', '  keys:');
  for (let k = 0; k < KEYS; k++) lines.push(`    - { name: key-${k}, sha256: "${sha(`sk-gateway-${k}`)}", team: team-${k % 2 ? 'b' : 'a'} }`);
  return `${lines.join('\n')}\n`;
}

/** Every object in `value` (and `value`) is frozen. */
function deeplyFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(deeplyFrozen);
}

describe('a reload of a large config', () => {
  let upstream: MockUpstream;
  let gw: Running | undefined;
  const logged: Record<string, any>[] = [];

  before(async () => {
    upstream = await MockUpstream.start();
    const lines = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) logged.push(JSON.parse(line));
        done();
      },
    });
    gw = await startGateway(largeConfig(upstream.url, 0), { env: ENV, logger: createLogger('info', lines) });
    const result = await gw.gateway.reload({ yaml: largeConfig(upstream.url, 1) });
    assert.equal(result.changed, true);
  });
  after(async () => {
    await gw?.close();
    await upstream.close();
  });

  test('is the config a synchronous load of the same text gives: same values, same key order, frozen throughout', () => {
    const expected = loadConfigText(largeConfig(upstream.url, 1), '<inline>', ENV);
    const loaded = gw!.gateway.pipeline.loaded;
    assert.equal(JSON.stringify(loaded.config), JSON.stringify(expected.config));
    assert.equal(JSON.stringify(loaded.keys), JSON.stringify(expected.keys));
    assert.equal(JSON.stringify(loaded.redacted), JSON.stringify(expected.redacted));
    assert.deepEqual([loaded.hash, loaded.source, loaded.keysFile, loaded.placeholders], [expected.hash, expected.source, expected.keysFile, expected.placeholders]);
    assert.equal(Object.keys(loaded.config.routers).length, ROUTERS + 1);
    assert.ok(deeplyFrozen(loaded), 'the loaded config, its keys and its redacted copy are frozen');
    assert.ok(Object.hasOwn(loaded.config.pricing!, '__proto__'), 'a "__proto__" price stays an entry of its map');
    assert.equal(Object.getPrototypeOf(loaded.config.pricing), Object.prototype);
    assert.equal(({} as Record<string, unknown>).input, undefined, 'nothing reached Object.prototype');
  });

  test('the new routers serve, behind their new aliases', async () => {
    for (const model of ['rev-1', `r${ROUTERS}`, 'alias-150']) {
      const res = await fetch(`${gw!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer sk-gateway-7' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200, model);
      await res.arrayBuffer();
    }
    assert.equal(upstream.received.at(-1)!.headers.authorization, `Bearer ${SECRET}`);
  });

  test('the audit line names the routers added and changed', () => {
    const line = logged.find((l) => l.msg === 'config reloaded');
    assert.ok(line, 'a config reloaded line');
    assert.deepEqual(line.changes.routers, { added: [`r${ROUTERS}`], removed: [], changed: ['r0', 'r1'] });
    assert.deepEqual(line.changes.upstreams, { added: [], removed: [], changed: [] });
    assert.deepEqual(line.changes.sections, []);
  });

  test('/config is the redacted config, indented as JSON.stringify indents it, with no secret in it', async () => {
    const res = await fetch(`${gw!.adminUrl}/config`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const text = await res.text();
    assert.equal(text, JSON.stringify(loadConfigText(largeConfig(upstream.url, 1), '<inline>', ENV).redacted, null, 2));
    assert.ok(!text.includes(SECRET) && !text.includes('query-secret') && !text.includes('sk-other-literal'));
  });

  test('/stats lists every router with its counts, indented as JSON.stringify indents it', async () => {
    const res = await fetch(`${gw!.adminUrl}/stats`);
    assert.equal(res.status, 200);
    const text = await res.text();
    const stats = JSON.parse(text);
    assert.equal(text, JSON.stringify(stats, null, 2));
    assert.equal(Object.keys(stats.routers).length, ROUTERS + 1);
    assert.deepEqual(stats.routers.r1, { requests: 1, errors: 0, targets: ['up', 'other'] });
    assert.deepEqual(stats.routers[`r${ROUTERS}`], { requests: 1, errors: 0, targets: ['up', 'other'] });
    assert.deepEqual(stats.routers.r2, { requests: 0, errors: 0, targets: ['up', 'other'] });
    assert.deepEqual(stats.config.reloads, { success: 1, error: 0, unchanged: 0 });
  });
});
