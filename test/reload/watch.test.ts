import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../src/index.js';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';

/** A config whose only router rewrites the model to `model`, so a request shows which version served it. */
function configRewritingTo(upstream: MockUpstream, model: string): string {
  return `version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main: { targets: [{ upstream: up, model: ${model} }] }
`;
}

async function modelServed(url: string, upstream: MockUpstream): Promise<string> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'anything', messages: [] }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return upstream.received.at(-1)!.json().model;
}

describe('hot reload of a watched config file', () => {
  let upstream: MockUpstream;
  let dir: string;
  let gateway: Gateway | null = null;

  before(async () => {
    upstream = await MockUpstream.start();
  });
  afterEach(async () => {
    await gateway?.close({ drainMs: 500 });
    gateway = null;
    rmSync(dir, { recursive: true, force: true });
  });
  after(() => upstream.close());

  async function start(file: string): Promise<string> {
    gateway = await createGateway(file);
    const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: false });
    return url;
  }

  test('an editor rename-save reloads; a stream in flight finishes on the old version', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, configRewritingTo(upstream, 'model-v1'));
    const url = await start(file);
    assert.equal(await modelServed(url, upstream), 'model-v1');

    // A slow stream starts on v1…
    upstream.script(steps.sse(Array.from({ length: 10 }, (_, i) => chunk('model-v1', `${i} `)), 30));
    const streaming = fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'x', stream: true, messages: [] }),
    });
    const res = await streaming;
    const reader = res.body!.getReader();
    await reader.read();

    // …while the file is replaced the way editors save: write a temp file, rename over.
    const reloaded = once(gateway!, 'reload');
    writeFileSync(join(dir, '.gateway.yaml.swp'), configRewritingTo(upstream, 'model-v2'));
    renameSync(join(dir, '.gateway.yaml.swp'), file);
    const [event] = await reloaded;
    assert.notEqual(event.version, event.previous);

    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.match(rest, /"9 "/, 'the stream that started on v1 ran to its end');
    assert.match(rest, /data: \[DONE\]/);
    assert.equal(await modelServed(url, upstream), 'model-v2');
  });

  test('a Kubernetes ConfigMap update (..data symlink swap) reloads', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-k8s-'));
    mkdirSync(join(dir, '..2026_11_01_v1'));
    writeFileSync(join(dir, '..2026_11_01_v1', 'gateway.yaml'), configRewritingTo(upstream, 'model-v1'));
    symlinkSync('..2026_11_01_v1', join(dir, '..data'));
    symlinkSync('..data/gateway.yaml', join(dir, 'gateway.yaml'));
    const url = await start(join(dir, 'gateway.yaml'));
    assert.equal(await modelServed(url, upstream), 'model-v1');

    const reloaded = once(gateway!, 'reload');
    mkdirSync(join(dir, '..2026_11_02_v2'));
    writeFileSync(join(dir, '..2026_11_02_v2', 'gateway.yaml'), configRewritingTo(upstream, 'model-v2'));
    symlinkSync('..2026_11_02_v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    rmSync(join(dir, '..2026_11_01_v1'), { recursive: true });
    await reloaded;
    assert.equal(await modelServed(url, upstream), 'model-v2');
  });

  test('a bad file is reported and never replaces the running config', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-bad-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, configRewritingTo(upstream, 'model-v1'));
    const url = await start(file);
    const version = gateway!.pipeline.version;

    const failed = once(gateway!, 'reload_error');
    writeFileSync(file, configRewritingTo(upstream, 'model-v2').replace('upstream: up,', 'upstream: upp,'));
    const [err] = await failed;
    assert.match(err.message, /unknown upstream "upp"/);
    assert.equal(gateway!.pipeline.version, version);
    assert.equal(await modelServed(url, upstream), 'model-v1');
    const stats = gateway!.stats() as any;
    assert.equal(stats.config.reloads.error, 1);
    assert.match(stats.config.last_reload_error, /unknown upstream "upp"/);
    const metrics = (await gateway!.metricsText()).body;
    assert.match(metrics, /ai_gateway_config_reloads_total\{result="error"\} 1/);

    // Fixing the file recovers.
    const reloaded = once(gateway!, 'reload');
    writeFileSync(file, configRewritingTo(upstream, 'model-v3'));
    await reloaded;
    assert.equal(await modelServed(url, upstream), 'model-v3');
  });

  test('editing a custom interceptor\'s module reloads it; a broken edit keeps the running module', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-hook-'));
    const hook = (tag: string): string => `export default () => ({ name: 'tag', onRequest(ctx) { ctx.req.headers['x-hook'] = '${tag}'; } });\n`;
    writeFileSync(join(dir, 'tag.mjs'), hook('v1'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, configRewritingTo(upstream, 'model-v1').replace('main: {', 'main: { interceptors: [{ custom: { module: ./tag.mjs } }],'));
    const url = await start(file);
    await gateway!.ready();
    const tagSent = async (): Promise<string> => {
      await modelServed(url, upstream);
      return upstream.received.at(-1)!.headers['x-hook'] as string;
    };
    assert.equal(await tagSent(), 'v1');

    const reloaded = once(gateway!, 'reload');
    writeFileSync(join(dir, 'tag.mjs'), hook('v2'));
    await reloaded;
    assert.equal(await tagSent(), 'v2', 'only the hook file changed');

    const failed = once(gateway!, 'reload_error');
    writeFileSync(join(dir, 'tag.mjs'), 'export default {{ broken');
    await failed;
    assert.equal(await tagSent(), 'v2', 'the running config kept its module');
  });
});
