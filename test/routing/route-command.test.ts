import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { runCliToEnd } from '../support/cli.js';
import { loadConfigText } from '../../src/config/load.js';
import { closePipeline } from '../../src/pipeline/compile.js';
import { GatewayError } from '../../src/errors.js';
import { compileOffline } from '../../src/review/offline.js';
import { routeRequest, type RouteQuery, type RouteResult } from '../../src/review/route.js';

function yaml(url: string): string {
  return `version: 1
logging: { level: silent }
upstreams:
  a: { provider: openai, url: ${url} }
  b: { provider: openai, url: ${url} }
  c: { provider: openai_compatible, url: ${url} }
default_router: main
routers:
  main:
    targets: [{ upstream: a }, { upstream: b }]
    features: { fallback: {} }
  fast:
    aliases: [gpt-fast]
    targets: [{ upstream: b, model: fast-model }]
  cheap:
    strategy: cost_aware
    targets: [{ upstream: a, model: gpt-4o }, { upstream: c, model: gpt-4o-mini }]
  rr:
    strategy: round_robin
    targets: [{ upstream: c }, { upstream: a }]
  weighted:
    strategy: weighted
    targets: [{ upstream: a, weight: 0 }, { upstream: b, weight: 3 }]
  healthy:
    targets: [{ upstream: b, model: m1 }, { upstream: a, model: m2 }]
    features: { health_check: { failures: 3 } }
`;
}

/** Requests, and the router and reason route must give (what the gateway then does is compared below). */
const TABLE: [RouteQuery, string | null, string | null][] = [
  [{ model: 'gpt-4o-mini' }, 'main', 'default'],
  [{ model: 'main' }, 'main', 'name'],
  [{ model: 'gpt-fast' }, 'fast', 'alias'],
  [{ model: 'anything', path: '/router/cheap/v1/chat/completions' }, 'cheap', 'path'],
  [{ model: 'rr' }, 'rr', 'name'],
  [{ model: 'weighted' }, 'weighted', 'name'],
  [{ model: 'healthy' }, 'healthy', 'name'],
  [{ model: 'main', path: '/router/fast/v1/embeddings' }, 'fast', 'path'],
  [{ model: 'gpt-fast', method: 'GET', path: '/v1/models' }, 'main', 'default'],
  [{ model: 'main', path: '/router/nope/v1/chat/completions' }, null, null],
  [{ model: 'main', path: '/v2/chat/completions' }, null, null],
];

describe('sidegate route agrees with the gateway', () => {
  let upstream: MockUpstream;
  let gateway: Running;
  let dir: string;
  let file: string;

  before(async () => {
    upstream = await MockUpstream.start();
    gateway = await startGateway(yaml(upstream.url));
    dir = mkdtempSync(join(tmpdir(), 'sidegate-route-'));
    file = join(dir, 'gateway.yaml');
    writeFileSync(file, yaml(upstream.url));
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a table of requests: the same router, first target and model as x-sidegate-target and the upstream saw', async () => {
    for (const [query, router, reason] of TABLE) {
      const pipeline = await compileOffline(loadConfigText(yaml(upstream.url)));
      let routed: RouteResult | GatewayError;
      try {
        routed = routeRequest(pipeline, query);
      } catch (err) {
        assert.ok(err instanceof GatewayError, String(err));
        routed = err;
      } finally {
        await closePipeline(pipeline);
      }
      const method = query.method ?? 'POST';
      const seen = upstream.received.length;
      const res = await fetch(`${gateway.url}${query.path ?? '/v1/chat/completions'}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'GET' ? undefined : JSON.stringify({ model: query.model, messages: [{ role: 'user', content: 'hi' }], input: 'hi' }),
      });
      const body = (await res.json()) as any;
      const what = JSON.stringify(query);
      if (routed instanceof GatewayError) {
        assert.equal(router, null, what);
        assert.equal(res.status, routed.status, what);
        assert.equal(body.error.code, routed.code, what);
        assert.equal(upstream.received.length, seen, `${what}: no upstream call`);
        continue;
      }
      assert.equal(routed.router, router, what);
      assert.equal(routed.reason, reason, what);
      assert.equal(res.status, 200, what);
      assert.equal(res.headers.get('x-sidegate-target'), routed.targets[0]!.upstream, what);
      const sent = upstream.received.at(-1)!;
      if (method === 'POST') assert.equal(sent.json().model, routed.targets[0]!.model, what);
    }
  });

  test('the order a strategy gives is the order the gateway falls back in', async () => {
    const pipeline = await compileOffline(loadConfigText(yaml(upstream.url)));
    try {
      const order = routeRequest(pipeline, { model: 'anything' }).targets.map((t) => t.upstream);
      assert.deepEqual(order, ['a', 'b']);
      upstream.script(steps.json(503, { error: { message: 'busy' } }));
      const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'anything', messages: [] }) });
      await res.arrayBuffer();
      assert.equal(res.headers.get('x-sidegate-target'), order[1]);
      assert.equal(res.headers.get('x-sidegate-attempts'), '2');
      assert.deepEqual(routeRequest(pipeline, { model: 'cheap' }).targets, [
        { upstream: 'c', model: 'gpt-4o-mini', rewritten: true },
        { upstream: 'a', model: 'gpt-4o', rewritten: true },
      ]);
      const stages = routeRequest(pipeline, { model: 'healthy' }).stages;
      assert.equal(stages.length, 1);
      assert.match(stages[0]!, /feature health_check: no active probes; eject after 3 failures in 30s for 30s$/);
    } finally {
      void closePipeline(pipeline);
    }
  });

  test('the command prints the route as text or JSON, and exits 1 with the 404 the gateway would give', async () => {
    const [text, json, missing, usage] = await Promise.all([
      runCliToEnd(['route', file, '--model', 'gpt-fast']),
      runCliToEnd(['route', file, '--model', 'main', '--path', '/router/cheap/v1/chat/completions', '--header', 'x-team=a', '--format', 'json']),
      runCliToEnd(['route', file, '--path', '/router/nope/v1/chat/completions']),
      runCliToEnd(['route', file, '--header', 'novalue']),
    ]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(
      text.stdout,
      [
        'POST /v1/chat/completions',
        'router: fast ("model": "gpt-fast" is one of its aliases)',
        'strategy: failover; targets in the order this request would try them:',
        '  1. b; model "fast-model" (rewritten by the target)',
        'stages, in order:',
        '  (none: the request goes straight to the target)',
        '',
      ].join('\n'),
    );
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout);
    assert.equal(result.router, 'cheap');
    assert.equal(result.reason, 'path');
    assert.deepEqual(result.targets.map((t: { upstream: string }) => t.upstream), ['c', 'a']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /the gateway would answer 404 router_not_found: Router "nope" does not exist\./);
    assert.equal(usage.code, 2);
  });
});
