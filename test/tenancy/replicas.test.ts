/**
 * Budgets are exact across replicas: two `sidegate` processes sharing one redis-server
 * take 50 concurrent requests against a key's budget that fits 10.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatCompletion, eventually, MockUpstream, steps } from '../support/mock-upstream.js';
import { RedisServer, REDIS_SKIP } from '../support/redis.js';
import { startCli, type CliProcess } from '../support/cli.js';
import { hashKey } from '../../src/tenancy/key-table.js';
import { countRequestTokens } from '../../src/tokens/index.js';

const KEY = 'sk-sg-replicas-key';
const MODEL = 'priced-model';
const BODY = { model: MODEL, messages: [{ role: 'user', content: 'two replicas' }], max_tokens: 5 };
/** $1 per token, and the mock's usage equals the estimate: each request costs exactly its reservation. */
const PER_REQUEST = countRequestTokens('openai', BODY, MODEL) + BODY.max_tokens;

describe('two gateway processes sharing one Redis', { skip: REDIS_SKIP }, () => {
  let redis: RedisServer;
  let upstream: MockUpstream;
  const clis: CliProcess[] = [];

  before(async () => {
    redis = await RedisServer.start();
    upstream = await MockUpstream.start();
  });
  after(async () => {
    for (const cli of clis) {
      cli.kill('SIGTERM');
      await cli.exited;
    }
    await upstream.close();
    await redis.stop();
  });

  test('50 concurrent requests against a budget that fits 10: spend never exceeds it by more than one reservation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidegate-replicas-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      `
version: 1
logging: { level: info, access: false }
server: { listen: "127.0.0.1:0", admin: "127.0.0.1:0" }
state:
  backend: redis
  redis: { url: "${redis.url}", prefix: "replicas:", timeout: 5s } # generous: a loaded test machine must not fall back to local counters
pricing:
  ${MODEL}: { input: 1000000, output: 1000000 }
upstreams:
  up: { provider: openai, url: ${upstream.url}, auth: { bearer: sk-provider } }
auth:
  keys:
    - { name: app, sha256: "${hashKey(KEY)}", budget: { usd: ${PER_REQUEST * 10}, period: day } }
default_router: main
routers:
  main: { targets: [{ upstream: up }] }
`,
    );
    const [a, b] = await Promise.all([startCli(file, ['--no-watch']), startCli(file, ['--no-watch'])]);
    clis.push(a!.cli, b!.cli);

    let decided = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const decide = (): void => {
      if (++decided === 50) release();
    };
    upstream.fallback = async (req, res) => {
      decide();
      await gate;
      const usage = { prompt_tokens: PER_REQUEST - BODY.max_tokens, completion_tokens: BODY.max_tokens, total_tokens: PER_REQUEST };
      return steps.json(200, chatCompletion(req.json().model, 'ok', usage))(req, res);
    };
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await fetch(`${(i % 2 ? a : b)!.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
          body: JSON.stringify(BODY),
        });
        if (res.status === 429) decide();
        await res.arrayBuffer();
        return res.status;
      }),
    );
    const admitted = statuses.filter((s) => s === 200).length;
    assert.equal(statuses.filter((s) => s === 429).length, 50 - admitted, 'every request was admitted or refused');
    assert.equal(upstream.received.length, admitted);
    // A reservation settles when its request finishes, just after the client has the last byte.
    const spendNow = async (): Promise<any> => ((await (await fetch(`${a!.adminUrl}/keys`)).json()) as any).keys[0].spend;
    await eventually('every reservation settled', async () => (await spendNow()).reserved_usd === 0);
    const spend = await spendNow();
    assert.equal(spend.reserved_usd, 0, 'every reservation settled');
    assert.equal(spend.spend_usd, admitted * PER_REQUEST);
    assert.ok(spend.spend_usd <= spend.budget_usd + PER_REQUEST, `spent $${spend.spend_usd} of $${spend.budget_usd}`);
    const metrics = await (await fetch(`${a!.adminUrl}/metrics`)).text();
    assert.doesNotMatch(metrics, /ai_gateway_state_failures_total\{/, "Redis answered every operation");
    assert.equal(admitted, 10, 'the estimate is the real cost here, so exactly the budget is spent');
  });
});
