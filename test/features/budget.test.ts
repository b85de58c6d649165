import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chunk, eventually, steps } from '../support/mock-upstream.js';
import type { Running } from '../support/gateway.js';
import { backendFixture, Clock, featureYaml, REDIS_SKIP } from '../support/redis.js';
import { periodOf } from '../../src/features/budget.js';

/** $1 per token: the mock's default usage (5 + 3 tokens) costs $8. */
const PRICING = 'pricing:\n  priced-model: { input: 1000000, output: 1000000 }\n';
const BODY = { model: 'priced-model', messages: [{ role: 'user', content: 'hi' }] };

function post(url: string): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(BODY) });
}

async function status(url: string): Promise<number> {
  const res = await post(url);
  await res.arrayBuffer();
  return res.status;
}

test('periods are calendar UTC: day, ISO week from Monday, month', () => {
  const t = Date.UTC(2025, 0, 15, 13, 30); // a Wednesday
  assert.deepEqual(periodOf('day', t), { stamp: '2025-01-15', start: Date.UTC(2025, 0, 15), end: Date.UTC(2025, 0, 16) });
  assert.deepEqual(periodOf('week', t), { stamp: 'w2025-01-13', start: Date.UTC(2025, 0, 13), end: Date.UTC(2025, 0, 20) });
  assert.deepEqual(periodOf('week', Date.UTC(2025, 0, 19, 23, 59)).stamp, 'w2025-01-13', 'Sunday ends the week');
  assert.deepEqual(periodOf('month', t), { stamp: '2025-01', start: Date.UTC(2025, 0, 1), end: Date.UTC(2025, 1, 1) });
  assert.equal(periodOf('month', Date.UTC(2025, 11, 31, 23)).end, Date.UTC(2026, 0, 1));
});

for (const backend of ['memory', 'redis'] as const) {
  describe(`budget on the ${backend} backend`, { skip: backend === 'redis' && REDIS_SKIP }, () => {
    const fx = backendFixture(backend, 'budget');
    const start = (yaml: string, clock: Clock): Promise<Running> => fx.start(yaml, clock);

    test('the request that crosses the budget completes, the next one is refused; it resets at the period boundary', async () => {
      const clock = new Clock(Date.UTC(2025, 0, 15, 23, 0));
      const gw = await start(featureYaml(fx.upstream.url, 'budget: { usd: 10, period: day }', { state: fx.state(), top: PRICING }), clock);
      const calls = fx.upstream.received.length;
      assert.equal(await status(gw.url), 200, '$0 spent');
      assert.equal(await status(gw.url), 200, '$8 spent: this one crosses $10');
      const refused = await post(gw.url);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '3600');
      assert.deepEqual(await refused.json(), {
        error: {
          message: 'Budget exceeded for router "main": $16 spent of $10 this day (UTC); it resets at 2025-01-16T00:00:00.000Z.',
          type: 'insufficient_quota',
          param: null,
          code: 'budget_exceeded',
        },
      });
      assert.equal(fx.upstream.received.length, calls + 2, 'refused before any upstream call');

      await eventually('the crossing request settled', async () => ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.budget.spenders.main.reserved_usd === 0);
      const stats = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.budget;
      assert.equal(stats.usd, 10);
      assert.equal(stats.resets_at, '2025-01-16T00:00:00.000Z');
      assert.deepEqual(stats.spenders.main, { spend_usd: 16, reserved_usd: 0, remaining_usd: 0 });
      assert.equal(stats.refused, 1);
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(metrics, /ai_gateway_budget_spend_usd\{router="main",scope="router",spender="main"\} 16/);
      assert.match(metrics, /ai_gateway_budget_reserved_usd\{router="main",scope="router",spender="main"\} 0/);
      assert.match(metrics, /ai_gateway_budget_remaining_usd\{router="main",scope="router",spender="main"\} 0/);
      assert.match(metrics, /ai_gateway_budget_exceeded_total\{router="main",scope="router"\} 1/);

      clock.t = Date.UTC(2025, 0, 15, 23, 59, 59, 999);
      assert.equal(await status(gw.url), 429, 'still the same day');
      clock.t = Date.UTC(2025, 0, 16, 0, 0);
      assert.equal(await status(gw.url), 200, 'a new day, a new budget');
      // The answer is settled once the client has it (onDone): wait for that, then check.
      const spender = async (): Promise<any> => ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.budget.spenders.main;
      await eventually('the new day request settled', async () => (await spender()).reserved_usd === 0);
      assert.deepEqual(await spender(), { spend_usd: 8, reserved_usd: 0, remaining_usd: 2 });
    });

    test('streamed responses are charged too (usage asked for, and hidden)', async () => {
      const clock = new Clock();
      const gw = await start(featureYaml(fx.upstream.url, 'budget: { usd: 5, period: month }', { state: fx.state(), top: PRICING }), clock);
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
      fx.upstream.script((req, res) => {
        const usage = req.json().stream_options?.include_usage ? [{ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'priced-model', choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } }] : [];
        return steps.sse([chunk('priced-model', 'ok'), chunk('priced-model', null, 'stop'), ...usage])(req, res);
      });
      const stream = await client.chat.completions.create({ ...BODY, messages: [{ role: 'user', content: 'hi' }], stream: true });
      const events = [];
      for await (const e of stream) events.push(e);
      assert.ok(events.every((e) => !e.usage));
      assert.equal(await status(gw.url), 429, '$6 of $5 spent by the stream');
    });

    test('a reload keeps the spend', async () => {
      const clock = new Clock();
      const yaml = featureYaml(fx.upstream.url, 'budget: { usd: 1, period: week }', { state: fx.state(), top: PRICING });
      const gw = await start(yaml, clock);
      assert.equal(await status(gw.url), 200);
      await gw.gateway.reload({ yaml: `${yaml}    aliases: [renamed]\n` });
      assert.equal(await status(gw.url), 429);
    });

    if (backend === 'redis') {
      test('two gateways sharing Redis share one budget', async () => {
        const clock = new Clock();
        const yaml = featureYaml(fx.upstream.url, 'budget: { usd: 10, period: day }', { state: fx.state(), top: PRICING });
        const a = await start(yaml, clock);
        const b = await start(yaml, clock);
        assert.equal(await status(a.url), 200);
        assert.equal(await status(b.url), 200);
        assert.equal(await status(a.url), 429);
        assert.equal(await status(b.url), 429);
      });
    }
  });
}
