import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { steps, chatCompletion, eventually } from '../support/mock-upstream.js';
import type { Running } from '../support/gateway.js';
import { startGateway } from '../support/gateway.js';
import { backendFixture, Clock, REDIS_SKIP } from '../support/redis.js';
import { hashKey } from '../../src/tenancy/key-table.js';
import { countRequestTokens } from '../../src/tokens/index.js';
import { createStateStore } from '../../src/state/create.js';
import { Metrics } from '../../src/observability/metrics.js';
import { HOLD_MS } from '../../src/features/budget-ledger.js';

const KEYS = { alice: 'sk-sg-alice-1', amir: 'sk-sg-amir-1', bob: 'sk-sg-bob-1' };
const MODEL = 'priced-model';
/** $1 per token: the mock's default usage (5 + 3 tokens) costs $8. */
const PRICING = `pricing:\n  ${MODEL}: { input: 1000000, output: 1000000 }\n`;

function tenancyYaml(upstreamUrl: string, state: string, opts: { alice?: string; amir?: string; team?: string; router?: string } = {}): string {
  return `
version: 1
logging: { level: silent }
${state}${PRICING}upstreams:
  up: { provider: openai, url: ${upstreamUrl}, auth: { bearer: sk-provider } }
auth:
  keys:
    - { name: alice, sha256: "${hashKey(KEYS.alice)}", team: payments${opts.alice ?? ''} }
    - { name: amir, sha256: "${hashKey(KEYS.amir)}", team: payments${opts.amir ?? ''} }
    - { name: bob, sha256: "${hashKey(KEYS.bob)}" }
teams:
  payments: {${opts.team ?? ''} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
${opts.router ?? ''}`;
}

function post(url: string, key: string, body: Record<string, unknown> = {}): Promise<Response> {
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

async function status(url: string, key: string): Promise<number> {
  const res = await post(url, key);
  await res.arrayBuffer();
  return res.status;
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`tenancy limits on the ${backend} backend`, { skip: backend === 'redis' && REDIS_SKIP }, () => {
    const fx = backendFixture(backend, 'tenancy');
    const start = (yaml: string, clock = new Clock()): Promise<Running> => fx.start(yaml, clock);

    test('a key\'s own rate limit holds across routers; other keys are not affected', async () => {
      const gw = await start(
        tenancyYaml(fx.upstream.url, fx.state(), { alice: ', rate_limit: { requests: 2, per: 1m }', router: '  other: { targets: [{ upstream: up }] }\n' }),
      );
      assert.equal(await status(gw.url, KEYS.alice), 200);
      const pinned = await fetch(`${gw.url}/router/other/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${KEYS.alice}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(pinned.status, 200);
      assert.equal(pinned.headers.get('x-ratelimit-remaining-requests'), '0');
      await pinned.arrayBuffer();
      const refused = await post(gw.url, KEYS.alice);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '30');
      assert.deepEqual(await refused.json(), {
        error: { message: 'Rate limit reached for requests on key "alice": limit 2 per 1m. Please try again in 30s.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
      });
      assert.equal(await status(gw.url, KEYS.amir), 200);
      assert.equal(await status(gw.url, KEYS.bob), 200);
    });

    test('a team\'s rate limit is shared by its keys; the router\'s `key: team` buckets per team', async () => {
      const gw = await start(tenancyYaml(fx.upstream.url, fx.state(), { team: ' rate_limit: { requests: 3, per: 1m }' }));
      assert.equal(await status(gw.url, KEYS.alice), 200);
      assert.equal(await status(gw.url, KEYS.amir), 200);
      assert.equal(await status(gw.url, KEYS.alice), 200);
      const refused = await post(gw.url, KEYS.amir);
      assert.equal(refused.status, 429);
      assert.match(((await refused.json()) as any).error.message, /on team "payments": limit 3 per 1m/);
      assert.equal(await status(gw.url, KEYS.bob), 200, 'bob is in no team');

      const routerLimit = await start(tenancyYaml(fx.upstream.url, fx.state(), { router: '    features: { rate_limit: { requests: 1, per: 1m, key: team } }\n' }));
      assert.equal(await status(routerLimit.url, KEYS.alice), 200);
      assert.equal(await status(routerLimit.url, KEYS.amir), 429, 'the same team, the same bucket');
      assert.equal(await status(routerLimit.url, KEYS.bob), 200, 'a key without a team is a team of its own');
    });

    test('a key\'s budget and its team\'s budget; /stats, metrics and GET /keys show spend', async () => {
      const clock = new Clock(Date.UTC(2025, 0, 15, 12));
      const gw = await start(
        tenancyYaml(fx.upstream.url, fx.state(), { alice: ', budget: { usd: 10, period: day }', team: ' budget: { usd: 20, period: month }' }),
        clock,
      );
      assert.equal(await status(gw.url, KEYS.alice), 200, '$0 of alice\'s $10');
      assert.equal(await status(gw.url, KEYS.alice), 200, '$8: this one crosses it');
      const refused = await post(gw.url, KEYS.alice);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), String(12 * 3600));
      assert.deepEqual(await refused.json(), {
        error: {
          message: 'Budget exceeded for key "alice": $16 spent of $10 this day (UTC); it resets at 2025-01-16T00:00:00.000Z.',
          type: 'insufficient_quota',
          param: null,
          code: 'budget_exceeded',
        },
      });
      assert.equal(await status(gw.url, KEYS.amir), 200, 'the team has $4 left');
      const team = await post(gw.url, KEYS.amir);
      assert.equal(team.status, 429);
      assert.match(((await team.json()) as any).error.message, /^Budget exceeded for team "payments": \$24 spent of \$20 this month/);
      assert.equal(await status(gw.url, KEYS.bob), 200);

      const keys = (await (await fetch(`${gw.adminUrl}/keys`)).json()) as any;
      const alice = keys.keys.find((k: any) => k.name === 'alice');
      assert.deepEqual(alice.spend, {
        period: 'day',
        period_start: '2025-01-15T00:00:00.000Z',
        resets_at: '2025-01-16T00:00:00.000Z',
        spend_usd: 16,
        reserved_usd: 0,
        budget_usd: 10,
        remaining_usd: 0,
      });
      assert.equal(keys.keys.find((k: any) => k.name === 'bob').spend.spend_usd, 8, 'spend is kept for keys without a budget');
      assert.equal(keys.teams.payments.spend.spend_usd, 24);
      const stats = (await (await fetch(`${gw.adminUrl}/stats`)).json()) as any;
      assert.equal(stats.tenancy.keys.alice.spend_usd, 16);
      assert.equal(stats.tenancy.keys.alice.refused, 1);
      assert.deepEqual([stats.tenancy.keys.amir.spend_usd, stats.tenancy.keys.bob.spend_usd], [8, 8], 'keys without a budget keep their books apart');
      assert.equal(stats.tenancy.teams.payments.usd, 20);
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(metrics, /ai_gateway_budget_spend_usd\{router="",scope="key",spender="alice"\} 16/);
      assert.match(metrics, /ai_gateway_budget_remaining_usd\{router="",scope="team",spender="payments"\} 0/);
      assert.match(metrics, /ai_gateway_budget_exceeded_total\{router="",scope="key"\} 1/);
    });

    test('a router budget with scope key limits each key on its own', async () => {
      const gw = await start(tenancyYaml(fx.upstream.url, fx.state(), { router: '    features: { budget: { usd: 5, period: day, scope: key } }\n' }));
      assert.equal(await status(gw.url, KEYS.alice), 200);
      assert.equal(await status(gw.url, KEYS.alice), 429);
      assert.equal(await status(gw.url, KEYS.amir), 200);
      const spenders = async (): Promise<any> => ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.budget.spenders;
      // The answer reaches the client before its spend is settled (with Redis, one more round trip).
      await eventually('both keys\' spend settled', async () => {
        const now = Object.values(await spenders()) as any[];
        return now.length === 2 && now.every((s) => s.reserved_usd === 0 && s.spend_usd > 0);
      });
      assert.deepEqual(await spenders(), {
        alice: { spend_usd: 8, reserved_usd: 0, remaining_usd: 0 },
        amir: { spend_usd: 8, reserved_usd: 0, remaining_usd: 0 },
      });
    });

    test('50 concurrent requests against a budget that fits 10: exactly 10 reach the upstream', async () => {
      const body = { model: MODEL, messages: [{ role: 'user', content: 'concurrent' }], max_tokens: 7 };
      const perRequest = countRequestTokens('openai', body, MODEL) + body.max_tokens; // tokens = USD here
      // The upstream holds every answer until each of the 50 is decided: admitted (it arrived here) or refused.
      let decided = 0;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const decide = (): void => {
        if (++decided === 50) release();
      };
      fx.upstream.fallback = async (req, res) => {
        decide();
        await gate;
        const usage = { prompt_tokens: perRequest - 7, completion_tokens: 7, total_tokens: perRequest };
        return steps.json(200, chatCompletion(req.json().model, 'ok', usage))(req, res);
      };
      try {
        const gw = await start(tenancyYaml(fx.upstream.url, fx.state(), { alice: `, budget: { usd: ${perRequest * 10}, period: day }` }));
        const calls = fx.upstream.received.length;
        const results = await Promise.all(
          Array.from({ length: 50 }, async () => {
            const res = await post(gw.url, KEYS.alice, body);
            if (res.status === 429) decide();
            await res.arrayBuffer();
            return res.status;
          }),
        );
        assert.equal(results.filter((s) => s === 200).length, 10);
        assert.equal(results.filter((s) => s === 429).length, 40);
        assert.equal(fx.upstream.received.length - calls, 10);
        const keys = (await (await fetch(`${gw.adminUrl}/keys`)).json()) as any;
        const spend = keys.keys.find((k: any) => k.name === 'alice').spend;
        assert.equal(spend.spend_usd, perRequest * 10);
        assert.equal(spend.reserved_usd, 0, 'every reservation settled');
      } finally {
        fx.upstream.fallback = steps.auto();
      }
    });

    test('crossing 80 % and 100 % is logged once per period', async () => {
      const lines: any[] = [];
      let waiter: { count: number; resolve: () => void } | null = null;
      const crossings = (): any[] => lines.filter((l) => String(l.msg).startsWith('budget:'));
      const logger = pino({ level: 'warn' }, {
        write: (line: string) => {
          lines.push(JSON.parse(line));
          if (waiter && crossings().length >= waiter.count) waiter.resolve();
        },
      });
      /** Settling runs once the answer is sent (with Redis, a moment later): wait for the line. */
      const logged = (count: number): Promise<void> =>
        crossings().length >= count ? Promise.resolve() : new Promise((resolve) => (waiter = { count, resolve }));
      const clock = new Clock(Date.UTC(2025, 0, 15, 12));
      const yaml = tenancyYaml(fx.upstream.url, fx.state(), { alice: ', budget: { usd: 20, period: day }' }).replace('logging: { level: silent }\n', '');
      const gw = await startGateway(yaml, { now: clock.now, logger });
      try {
        for (const expected of [200, 200, 200]) assert.equal(await status(gw.url, KEYS.alice), expected); // $8, $16 (80 %), $24 (100 %)
        assert.equal(await status(gw.url, KEYS.alice), 429);
        await logged(2);
        assert.deepEqual(
          crossings().map((l) => [l.msg, l.threshold, l.spend_usd, l.spender, l.period]),
          [
            ['budget: key "alice" reached 80% of $20 this day', 0.8, 16, 'alice', '2025-01-15'],
            ['budget: key "alice" reached 100% of $20 this day', 1, 24, 'alice', '2025-01-15'],
          ],
        );
        clock.t = Date.UTC(2025, 0, 16, 1);
        for (const expected of [200, 200]) assert.equal(await status(gw.url, KEYS.alice), expected);
        await logged(3);
        assert.equal(crossings().length, 3, 'a new period, a new 80 % line');
        assert.equal(crossings()[2].period, '2025-01-16');
      } finally {
        await gw.close();
      }
    });

    test('a reservation never settled expires', async () => {
      const clock = new Clock();
      const store = createStateStore(
        fx.redis ? { backend: 'redis', redis: { url: fx.redis.url, prefix: `expire${Math.random()}:` } } : undefined,
        { logger: pino({ level: 'silent' }), metrics: new Metrics(), now: clock.now },
      );
      await store.ready();
      try {
        const hold = (id: string) => ({ key: 'budget:{test}', id, usd: 6 });
        assert.equal((await store.reserve(hold('a'), 10, clock.t, HOLD_MS, clock.t + 86_400_000)).allowed, true);
        assert.equal((await store.reserve(hold('b'), 10, clock.t, HOLD_MS, clock.t + 86_400_000)).allowed, true, '$6 reserved < $10');
        const full = await store.reserve(hold('c'), 10, clock.t, HOLD_MS, clock.t + 86_400_000);
        assert.deepEqual(full, { allowed: false, spend: 0, reserved: 12 });
        clock.t += HOLD_MS - 1;
        assert.equal((await store.reserve(hold('d'), 10, clock.t, HOLD_MS, clock.t + 86_400_000)).allowed, false);
        clock.t += 1;
        assert.deepEqual(await store.budgetLevel('budget:{test}', clock.t), { spend: 0, reserved: 0 }, 'a and b expired');
        const settled = await store.settle('budget:{test}', hold('a'), 3, clock.t + 86_400_000);
        assert.deepEqual(settled, { before: 0, spend: 3, reserved: 0 }, 'an expired hold settles its cost all the same');
      } finally {
        await store.close();
      }
    });

    test('the cache keeps teams apart with scope: team', async () => {
      const gw = await start(tenancyYaml(fx.upstream.url, fx.state(), { router: '    features: { cache: { scope: team } }\n' }));
      const hit = async (key: string): Promise<string | null> => {
        const res = await post(gw.url, key);
        await res.arrayBuffer();
        return res.headers.get('x-cache');
      };
      assert.equal(await hit(KEYS.alice), 'MISS');
      assert.equal(await hit(KEYS.amir), 'HIT', 'the same team shares answers');
      assert.equal(await hit(KEYS.bob), 'MISS', 'another tenant does not');
    });
  });
}
