/**
 * Config files built to stall or exhaust the gateway: alias bombs, a file over the size
 * limit, deep nesting, 10 000 routers. `validate` rejects them with a clear message, and a
 * running gateway keeps answering while it reloads them (the reload runs off the event
 * loop): the proof is that a request sent after the reload started is answered before the
 * reload is over.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/index.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { runCliToEnd } from '../support/cli.js';
import { billionLaughs, mergeKeyBomb } from '../../bench/lib/config-bombs.js';

const dir = mkdtempSync(join(tmpdir(), 'sidegate-bombs-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const BASE = `version: 1
logging: { level: silent }
upstreams: { m: { provider: mock } }
routers: { r: { targets: [{ upstream: m }] } }
`;

/** Routers r0…r(n-1), each with a retry feature through a chain of aliases. */
function manyRouters(n: number, mockUrl: string): string {
  const out = [`version: 1
logging: { level: silent }
upstreams: { up: { provider: openai, url: ${mockUrl} } }
defaults:
  features: &f1 { retry: &f0 { attempts: 2, backoff: 10ms } }
routers:`];
  for (let i = 0; i < n; i++) out.push(`  r${i}: { targets: [{ upstream: up }], features: { retry: *f0 } }`);
  return `${out.join('\n')}\n`;
}

describe('config bombs: validate rejects them', () => {
  test('a YAML alias bomb (billion laughs, 9×9) is rejected, naming the limit', async () => {
    const out = await runCliToEnd(['validate', file('laughs.yaml', billionLaughs(BASE))]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /the config expands to more than 1000000 values \(YAML aliases repeat what they name\); the limit is 1000000 \(laughs\.yaml\)/);
  });

  test('a merge-key bomb is rejected the same way', async () => {
    const out = await runCliToEnd(['validate', file('merge.yaml', mergeKeyBomb(BASE))]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /the config expands to more than 1000000 values/);
  });

  test('a file over 4 MB is refused before it is read', async () => {
    const big = `${BASE}pricing:\n${Array.from({ length: 130_000 }, (_, i) => `  model-${i}: { input: 1, output: 2 }`).join('\n')}\n`;
    const path = file('huge.yaml', big);
    const out = await runCliToEnd(['validate', path]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, new RegExp(`the config file is ${Buffer.byteLength(big)} bytes; the limit is 4194304 bytes \\(4mb\\) \\(huge\\.yaml\\)`));
  });

  test('maps and lists have size limits: more than 10000 pricing entries is an issue at the map', async () => {
    const text = `${BASE}pricing:\n${Array.from({ length: 10_001 }, (_, i) => `  m${i}: { input: 1, output: 2 }`).join('\n')}\n`;
    const out = await runCliToEnd(['validate', file('pricing.yaml', text)]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^pricing: must have at most 10000 entries \(pricing\.yaml:6:3\)$/m);
  });

  test('nesting deep enough to exhaust a recursive parser is an issue, not a crash', async () => {
    const out = await runCliToEnd(['validate', file('deep.yaml', `${BASE}x-deep: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`)]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /^the config nests too deeply to be read \(deep\.yaml:5:\d+\)$/m);
  });
});

describe('config bombs: a running gateway keeps answering while it reloads them', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(manyRouters(2, upstream.url));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function ask(router: string): Promise<number> {
    const res = await fetch(`${gw.url}/router/${router}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    return res.status;
  }

  /** Starts a reload and a request at once; says which finished first. */
  async function raceReload(yaml: string): Promise<{ first: 'request' | 'reload'; reload: PromiseSettledResult<unknown> }> {
    let first: 'request' | 'reload' | null = null;
    const settled = Promise.allSettled([gw.gateway.reload({ yaml }).finally(() => (first ??= 'reload'))]); // handled at once
    const status = await ask('r0');
    first ??= 'request';
    assert.equal(status, 200);
    return { first, reload: (await settled)[0]! };
  }

  test('an alias bomb saved over the live config: rejected, and requests meanwhile are answered', async () => {
    const { reload } = await raceReload(billionLaughs(BASE));
    assert.equal(reload.status, 'rejected');
    assert.ok((reload as PromiseRejectedResult).reason instanceof ConfigError);
    assert.match((reload as PromiseRejectedResult).reason.message, /expands to more than 1000000 values/);
    assert.equal(await ask('r1'), 200, 'the old config still serves');
  });

  test('a file over the size limit: rejected, and the live config stays', async () => {
    const big = `${manyRouters(2, upstream.url)}pricing:\n${Array.from({ length: 130_000 }, (_, i) => `  model-${i}: { input: 1, output: 2 }`).join('\n')}\n`;
    const { reload } = await raceReload(big);
    assert.equal(reload.status, 'rejected');
    assert.match((reload as PromiseRejectedResult).reason.message, /the limit is 4194304 bytes/);
    assert.equal(((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).config.last_reload_error.includes('4194304'), true);
  });

  test('10 000 routers behind aliases: applied, while a request sent after the reload started is answered first', async () => {
    const { first, reload } = await raceReload(manyRouters(10_000, upstream.url));
    assert.equal(reload.status, 'fulfilled');
    assert.equal((reload as PromiseFulfilledResult<any>).value.changed, true);
    assert.equal(first, 'request', 'the request did not wait for the reload');
    assert.equal(await ask('r9999'), 200, 'the new routers serve');
  });
});
