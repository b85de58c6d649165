import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MockUpstream, sleep, steps, type Step } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

/** Sends `n` chat requests to `router` one after another; returns which upstream answered each. */
async function route(gw: Running, router: string, n: number, model = 'gpt-4o'): Promise<string[]> {
  const answered: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${gw.url}/router/${router}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    answered.push(res.headers.get('x-sidegate-target')!);
  }
  return answered;
}

function count(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of list) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** Six standard deviations of a binomial count: a correct random split never fails this. */
function assertNear(actual: number, n: number, p: number, label: string): void {
  const tolerance = 6 * Math.sqrt(n * p * (1 - p));
  assert.ok(Math.abs(actual - n * p) <= tolerance, `${label}: ${actual} is not within ${tolerance.toFixed(0)} of ${n * p}`);
}

describe('routing strategies distribute requests as defined', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    const targets = (extra: (name: string) => string = () => '') =>
      `[${['a', 'b', 'c'].map((n) => `{ upstream: ${n}${extra(n)} }`).join(', ')}]`;
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  a: { provider: openai, url: ${upstream.url} }
  b: { provider: openai, url: ${upstream.url} }
  c: { provider: openai, url: ${upstream.url} }
routers:
  failover: { targets: ${targets()} }
  round_robin: { strategy: round_robin, targets: ${targets()} }
  weighted: { strategy: weighted, targets: [{ upstream: a, weight: 5 }, { upstream: b, weight: 3 }, { upstream: c, weight: 2 }] }
  percentage: { strategy: percentage, targets: [{ upstream: a, weight: 70 }, { upstream: b, weight: 20 }, { upstream: c, weight: 10 }] }
  random: { strategy: random, targets: ${targets()} }
  cost_aware:
    strategy: cost_aware
    targets:
      - { upstream: a, model: gpt-4o }
      - { upstream: b, model: gpt-4o-mini }
      - { upstream: c, model: claude-haiku-4-5 }
  cost_passthrough:
    strategy: cost_aware
    targets: [{ upstream: a, model: gpt-4o }, { upstream: b }]
pricing:
  cheap-model: { input: 0.01, output: 0.01 }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('failover: every request to the first target', async () => {
    assert.deepEqual(count(await route(gw, 'failover', 50)), { a: 50 });
  });

  test('round_robin: exactly in turn', async () => {
    const answered = await route(gw, 'round_robin', 300);
    assert.deepEqual(count(answered), { a: 100, b: 100, c: 100 });
    assert.deepEqual(answered.slice(0, 6), ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  test('weighted: exact shares, spread smoothly (5:3:2)', async () => {
    const answered = await route(gw, 'weighted', 300);
    assert.deepEqual(count(answered), { a: 150, b: 90, c: 60 });
    // Smooth weighted round robin never sends the heaviest target more than twice in a row here.
    assert.ok(!answered.join('').includes('aaa'), answered.slice(0, 20).join(''));
  });

  test('percentage: a 70/20/10 split within six standard deviations', async () => {
    const n = 600;
    const c = count(await route(gw, 'percentage', n));
    assertNear(c.a ?? 0, n, 0.7, 'a');
    assertNear(c.b ?? 0, n, 0.2, 'b');
    assertNear(c.c ?? 0, n, 0.1, 'c');
  });

  test('random: uniform within six standard deviations', async () => {
    const n = 600;
    const c = count(await route(gw, 'random', n));
    for (const name of ['a', 'b', 'c']) assertNear(c[name] ?? 0, n, 1 / 3, name);
  });

  test('cost_aware: the cheapest target by the pricing table', async () => {
    assert.deepEqual(count(await route(gw, 'cost_aware', 30)), { b: 30 });
    assert.equal(upstream.received.at(-1)!.json().model, 'gpt-4o-mini');
  });

  test('cost_aware: a target without a model is priced by the caller’s model', async () => {
    assert.deepEqual(count(await route(gw, 'cost_passthrough', 5, 'cheap-model')), { b: 5 });
    assert.deepEqual(count(await route(gw, 'cost_passthrough', 5, 'gpt-4-turbo')), { a: 5 });
  });
});

describe('latency_based follows the faster target, and comes back when a slow one recovers', () => {
  let one: MockUpstream;
  let two: MockUpstream;
  let gw: Running;
  const delay = { one: 0, two: 60 };
  const delayed = (key: 'one' | 'two'): Step => async (req, res) => {
    if (delay[key]) await sleep(delay[key]);
    await steps.chat()(req, res);
  };

  before(async () => {
    one = await MockUpstream.start(delayed('one'));
    two = await MockUpstream.start(delayed('two'));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  one: { provider: openai, url: ${one.url} }
  two: { provider: openai, url: ${two.url} }
routers:
  fastest: { strategy: latency_based, targets: [{ upstream: two }, { upstream: one }] }
`);
  });
  after(async () => {
    await gw.close();
    await one.close();
    await two.close();
  });

  test('most traffic goes to the fast target; after the targets swap speeds, it moves', async () => {
    await route(gw, 'fastest', 10); // both get measured
    const before = count(await route(gw, 'fastest', 100));
    // 10% explore the other target: 90 expected, six standard deviations is 18.
    assert.ok((before.one ?? 0) >= 72, JSON.stringify(before));

    delay.one = 60;
    delay.two = 0;
    await route(gw, 'fastest', 100); // long enough for exploration to notice
    const after = count(await route(gw, 'fastest', 100));
    assert.ok((after.two ?? 0) >= 72, JSON.stringify(after));
    const stats = (gw.gateway.stats() as any).routers.fastest.strategy.ttfb_ewma_ms;
    assert.ok(stats.two < stats.one, JSON.stringify(stats));
  });
});
