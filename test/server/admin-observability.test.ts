import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { createLogger } from '../../src/observability/logger.js';

const CALLER_KEY = 'sk-caller-very-secret';
const UPSTREAM_KEY = 'sk-upstream-very-secret';

describe('admin listener, metrics and the access log', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const lines: any[] = [];
  let onLine: (() => void) | null = null;
  /** Resolves once `count` access lines were logged. */
  const accessLines = async (count: number): Promise<any[]> => {
    for (;;) {
      const access = lines.filter((l) => l.msg === 'request');
      if (access.length >= count) return access;
      await new Promise<void>((resolve) => (onLine = resolve));
    }
  };

  before(async () => {
    upstream = await MockUpstream.start();
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        onLine?.();
        done();
      },
    });
    gw = await startGateway(
      `
version: 1
upstreams:
  up:
    provider: openai
    url: ${upstream.url}
    auth: { bearer: "\${UP_KEY}" }
    proxy: "http://user:proxy-password@127.0.0.1:1"
  plain: { provider: openai, url: ${upstream.url} }
routers:
  main: { targets: [{ upstream: plain }] }
  keyed: { targets: [{ upstream: up }] }
`,
      { env: { UP_KEY: UPSTREAM_KEY }, logger: createLogger('info', sink) },
    );
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('/healthz, /readyz and /health answer', async () => {
    assert.deepEqual(await (await fetch(`${gw.adminUrl}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${gw.adminUrl}/readyz`);
    assert.equal(ready.status, 200);
    const health = (await (await fetch(`${gw.adminUrl}/health`)).json()) as any;
    assert.equal(health.status, 'healthy');
    assert.equal(health.service, 'sidegate');
    assert.match(health.timestamp, /^\d{10}$/);
    assert.equal((await fetch(`${gw.adminUrl}/nope`)).status, 404);
  });

  test('a request shows up in /stats, /metrics (with tokens) and one access log line without secrets', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: CALLER_KEY, maxRetries: 0 });
    await client.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'hi' }] });

    const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as any;
    assert.equal(stats.config.version, gw.gateway.pipeline.version);
    assert.equal(stats.config.hash.length, 64);
    assert.equal(stats.in_flight, 0);
    assert.deepEqual(stats.routers.main, { requests: 1, errors: 0, targets: ['plain'] });
    assert.equal(typeof stats.uptime_seconds, 'number');
    const light = (await (await fetch(`${gw.adminUrl}/stats?routers=false`)).json()) as any;
    assert.equal(light.config.version, stats.config.version);
    assert.equal(light.routers, undefined, 'no per-router section when asked for none');

    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_requests_total\{router="main",upstream="plain",status="200"\} 1/);
    assert.match(metrics, /ai_gateway_duration_seconds_count\{router="main",upstream="plain"\} 1/);
    assert.match(metrics, /ai_gateway_time_to_first_byte_seconds_count\{router="main",upstream="plain"\} 1/);
    assert.match(metrics, /ai_gateway_overhead_seconds_count\{router="main"\} 1/);
    assert.match(metrics, /ai_gateway_tokens_total\{router="main",upstream="plain",model="main",kind="prompt"\} 5/);
    assert.match(metrics, /ai_gateway_tokens_total\{router="main",upstream="plain",model="main",kind="completion"\} 3/);
    assert.match(metrics, /ai_gateway_requests_in_flight 0/);

    const access = await accessLines(1);
    assert.equal(access.length, 1);
    const line = access[0];
    assert.equal(line.router, 'main');
    assert.equal(line.upstream, 'plain');
    assert.equal(line.status, 200);
    assert.equal(line.prompt_tokens, 5);
    assert.equal(line.completion_tokens, 3);
    assert.ok(line.duration_ms >= 0 && line.ttfb_ms >= 0 && line.bytes_out > 0);
    assert.ok(!JSON.stringify(lines).includes(CALLER_KEY));
  });

  test('tokens of a stream are read from its last usage event', async () => {
    upstream.script(
      steps.sse([
        chunk('s', 'a'),
        { id: 'x', object: 'chat.completion.chunk', created: 1, model: 's', choices: [], usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 } },
      ]),
    );
    const res = await fetch(`${gw.url}/router/main/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 's', stream: true, messages: [] }),
    });
    await res.text();
    const line = (await accessLines(2)).at(-1);
    assert.equal(line.prompt_tokens, 11);
    assert.equal(line.completion_tokens, 7);
    assert.equal(line.stream, true);
  });

  test('/config is the active config with every secret redacted', async () => {
    const text = await (await fetch(`${gw.adminUrl}/config`)).text();
    const config = JSON.parse(text);
    assert.equal(config.upstreams.up.auth.bearer, '[redacted]');
    assert.equal(config.upstreams.up.proxy, 'http://user:[redacted]@127.0.0.1:1');
    assert.ok(!text.includes(UPSTREAM_KEY));
    assert.ok(!text.includes('proxy-password'));
    assert.ok(!JSON.stringify(lines).includes(UPSTREAM_KEY));
  });
});
