import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import WebSocket, { WebSocketServer } from 'ws';
import { MockUpstream } from '../support/mock-upstream.js';
import { singleUpstreamYaml, startGateway, type Running } from '../support/gateway.js';
import { Clock } from '../support/redis.js';
import { ConfigError, loadConfigText } from '../../src/config/load.js';
import { hashKey } from '../../src/tenancy/key-table.js';
import type { Stage } from '../../src/index.js';

const ALICE = 'sk-sg-alice-0123456789';
const BOB = 'sk-sg-bob-0123456789';
const CAROL = 'sk-sg-carol-0123456789';
const DAVE = 'sk-sg-dave-0123456789';

const ERIN = 'sk-sg-erin-0123456789';
const FRANK = 'sk-sg-frank-0123456789';

function keysYaml(opts: { carolDisabled?: boolean; daveExpires?: string; extraKeys?: string } = {}): string {
  return `auth:
  keys:
    - { name: alice, sha256: "${hashKey(ALICE)}", team: payments, labels: { owner: checkout } }
    - { name: bob, sha256: "${hashKey(BOB)}", routers: [main] }
    - { name: carol, sha256: "${hashKey(CAROL)}", disabled: ${opts.carolDisabled ?? true} }
    - { name: dave, sha256: "${hashKey(DAVE)}", expires: "${opts.daveExpires ?? '2025-01-01'}" }
${opts.extraKeys ?? ''}teams:
  payments: { routers: [main, fast] }
`;
}

function config(upstreamUrl: string, tenancy = keysYaml(), routers = ''): string {
  return `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstreamUrl}, auth: { bearer: sk-provider-secret } }
${tenancy}default_router: main
routers:
  main: { targets: [{ upstream: up }] }
  fast: { targets: [{ upstream: up }] }
  admin: { targets: [{ upstream: up }] }
${routers}`;
}

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

function chat(url: string, headers: Record<string, string>, path = '/v1/chat/completions'): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY });
}

const INVALID = {
  error: { message: 'Invalid API key: the key is unknown, disabled or expired.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
};

describe('tenancy: authentication', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const clock = new Clock(Date.UTC(2025, 0, 15));
  const open: Running[] = [];

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(config(upstream.url), { now: clock.now });
    open.push(gw);
  });
  after(async () => {
    for (const g of open) await g.close();
    await upstream.close();
  });

  test('no key: 401 in OpenAI format with WWW-Authenticate, and nothing reaches the upstream', async () => {
    const calls = upstream.received.length;
    const res = await chat(gw.url, {});
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="sidegate"');
    assert.ok(res.headers.get('x-request-id'));
    assert.deepEqual(await res.json(), {
      error: {
        message: 'Missing API key: send your gateway key as `Authorization: Bearer <key>` or `x-api-key: <key>`.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    });
    assert.equal(upstream.received.length, calls);
  });

  test('unknown, disabled and expired keys get the very same 401 (no hint of which keys exist)', async () => {
    const bodies = [];
    for (const key of ['sk-sg-nobody', CAROL, DAVE, `${ALICE}x`]) {
      const res = await chat(gw.url, { authorization: `Bearer ${key}` });
      assert.equal(res.status, 401, key);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="sidegate"');
      bodies.push(await res.json());
    }
    for (const body of bodies) assert.deepEqual(body, INVALID);
    const long = await chat(gw.url, { authorization: `Bearer ${'k'.repeat(5000)}` });
    assert.equal(long.status, 401);
    assert.deepEqual(await long.json(), INVALID);
  });

  test('the official SDK: a known key passes, the upstream gets its own credential and never the caller\'s', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: ALICE, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(answer.choices[0]!.message.content, 'hello from upstream');
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.headers.authorization, 'Bearer sk-provider-secret');
    assert.ok(!JSON.stringify(seen.headers).includes(ALICE), 'the caller\'s key never goes upstream');

    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-sg-wrong', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError);
      assert.equal(err.code, 'invalid_api_key');
      return true;
    });
  });

  test('x-api-key works too, and is not forwarded', async () => {
    const res = await chat(gw.url, { 'x-api-key': BOB });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const seen = upstream.received.at(-1)!;
    assert.equal(seen.headers['x-api-key'], undefined);
    assert.equal(seen.headers.authorization, 'Bearer sk-provider-secret');
  });

  test('a router the key (or its team) may not use is a 403; Anthropic callers get Anthropic errors', async () => {
    const calls = upstream.received.length;
    const bobFast = await fetch(`${gw.url}/router/fast/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${BOB}` }, body: BODY });
    assert.equal(bobFast.status, 403);
    assert.deepEqual(await bobFast.json(), {
      error: { message: 'This key may not use router "fast".', type: 'permission_error', param: null, code: 'router_not_allowed' },
    });
    const aliceAdmin = await fetch(`${gw.url}/router/admin/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` }, body: BODY });
    assert.equal(aliceAdmin.status, 403, "the team's routers apply");
    await aliceAdmin.arrayBuffer();
    const aliceFast = await fetch(`${gw.url}/router/fast/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ALICE}` }, body: BODY });
    assert.equal(aliceFast.status, 200);
    await aliceFast.arrayBuffer();
    assert.equal(upstream.received.length, calls + 1);

    const anthropic = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-not-ours', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(anthropic.status, 401);
    const body = (await anthropic.json()) as any;
    assert.deepEqual(body, { type: 'error', error: { type: 'authentication_error', message: INVALID.error.message }, request_id: anthropic.headers.get('x-request-id') });
    const forbidden = await fetch(`${gw.url}/router/fast/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': BOB, 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(forbidden.status, 403);
    assert.equal(((await forbidden.json()) as any).error.type, 'permission_error');
  });

  test('the access line carries the key name and team, never the key', async () => {
    const lines: any[] = [];
    const { default: pino } = await import('pino');
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const logged = await startGateway(config(upstream.url).replace('logging: { level: silent }\n', ''), { now: clock.now, logger });
    open.push(logged);
    await (await chat(logged.url, { authorization: `Bearer ${ALICE}` })).arrayBuffer();
    await (await chat(logged.url, { authorization: 'Bearer sk-sg-unknown' })).arrayBuffer();
    const access = lines.filter((l) => l.msg === 'request');
    assert.equal(access[0].key, 'alice');
    assert.equal(access[0].team, 'payments');
    assert.equal(access[1].key, null);
    assert.equal(access[1].status, 401);
    assert.ok(!JSON.stringify(lines).includes(ALICE));
    const metrics = await (await fetch(`${logged.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_key_requests_total\{key="alice",team="payments",status="200"\} 1/);
  });

  test('disabling a key and expiring one take effect through a reload; expiry also by the clock alone', async () => {
    const local = await startGateway(config(upstream.url, keysYaml({ carolDisabled: false, daveExpires: '2025-01-16' })), { now: clock.now });
    open.push(local);
    const status = async (key: string): Promise<number> => {
      const res = await chat(local.url, { authorization: `Bearer ${key}` });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await status(CAROL), 200);
    assert.equal(await status(DAVE), 200);
    await local.gateway.reload({ yaml: config(upstream.url, keysYaml({ carolDisabled: true, daveExpires: '2025-01-16' })) });
    assert.equal(await status(CAROL), 401, 'disabled by the reload');
    assert.equal(await status(DAVE), 200);
    await local.gateway.reload({ yaml: config(upstream.url, keysYaml({ carolDisabled: true, daveExpires: '2025-01-14T23:00:00Z' })) });
    assert.equal(await status(DAVE), 401, 'expired by the reload');
    await local.gateway.reload({ yaml: config(upstream.url, keysYaml({ carolDisabled: true, daveExpires: '2025-01-15T00:00:01Z' })) });
    assert.equal(await status(DAVE), 200);
    clock.t = Date.UTC(2025, 0, 15, 0, 0, 1);
    assert.equal(await status(DAVE), 401, 'expired as the clock passed it');
    clock.t = Date.UTC(2025, 0, 15);
  });

  test('admin: server.admin_token guards everything but /healthz and /readyz; GET /keys never shows a hash', async () => {
    const token = 'admin-token-0123456789';
    const yaml = config(upstream.url).replace('logging: { level: silent }\n', `logging: { level: silent }\nserver: { admin_token: "${token}" }\n`);
    const admin = await startGateway(yaml, { now: clock.now });
    open.push(admin);
    assert.equal((await fetch(`${admin.adminUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${admin.adminUrl}/readyz`)).status, 200);
    for (const path of ['/stats', '/metrics', '/config', '/keys', '/health']) {
      const res = await fetch(`${admin.adminUrl}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="sidegate-admin"');
      assert.equal(((await res.json()) as any).error.code, 'invalid_admin_token');
      const wrong = await fetch(`${admin.adminUrl}${path}`, { headers: { authorization: 'Bearer admin-token-wrong-guess' } });
      assert.equal(wrong.status, 401, path);
      await wrong.arrayBuffer();
    }
    assert.equal((await fetch(`${admin.adminUrl}/cache`, { method: 'DELETE' })).status, 401);
    await (await chat(admin.url, { authorization: `Bearer ${ALICE}` })).arrayBuffer();
    const auth = { authorization: `Bearer ${token}` };
    const config_ = await (await fetch(`${admin.adminUrl}/config`, { headers: auth })).text();
    assert.ok(!config_.includes(token) && !config_.includes(hashKey(ALICE)), '/config redacts the token and the hashes');
    const keys = await fetch(`${admin.adminUrl}/keys`, { headers: auth });
    assert.equal(keys.status, 200);
    const text = await keys.text();
    for (const key of [ALICE, BOB, CAROL, DAVE]) assert.ok(!text.includes(hashKey(key)) && !text.includes(key));
    const report = JSON.parse(text);
    assert.deepEqual(
      report.keys.map((k: any) => [k.name, k.team, k.state]),
      [['alice', 'payments', 'active'], ['bob', null, 'active'], ['carol', null, 'disabled'], ['dave', null, 'expired']],
    );
    assert.deepEqual(report.keys[0].labels, { owner: 'checkout' });
    assert.deepEqual(report.keys[1].routers, ['main']);
    assert.equal(report.keys[0].spend.period, 'month');
    assert.equal(report.keys[0].spend.budget_usd, null);
    assert.deepEqual(report.teams.payments.keys, ['alice']);
    const stats = (await (await fetch(`${admin.adminUrl}/stats`, { headers: auth })).json()) as any;
    assert.deepEqual(Object.keys(stats.tenancy.keys), ['alice', 'bob', 'carol', 'dave']);
  });

  test('a user hook can set the identity that rate limits read', async () => {
    const hook: Stage = {
      name: 'sso',
      priority: 50,
      authenticate(ctx) {
        const user = ctx.req.headers['x-user'];
        if (typeof user === 'string') ctx.identity = { key: user, team: 'sso', labels: {}, clientIp: '127.0.0.1' };
      },
    };
    const yaml = singleUpstreamYaml(upstream, { extra: '    features: { rate_limit: { requests: 1, per: 1m, key: key } }\n' });
    const hooked = await startGateway(yaml, { now: clock.now, hooks: [hook] });
    open.push(hooked);
    const status = async (user: string): Promise<number> => {
      const res = await chat(hooked.url, { 'x-user': user });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await status('ann'), 200);
    assert.equal(await status('ben'), 200, 'another identity, another bucket');
    assert.equal(await status('ann'), 429);
  });

  test('a hook that changes a checked key\'s identity gets the limits and the counts of the key it names', async () => {
    // Placed after the key check (100): alice presents her key, the hook may say she acts as bob.
    const hook: Stage = {
      name: 'act-as',
      priority: 150,
      authenticate(ctx) {
        if (ctx.req.headers['x-act-as'] === 'bob' && ctx.identity) ctx.identity = { ...ctx.identity, key: 'bob', team: null };
      },
    };
    const limited = keysYaml().replace(/(name: (alice|bob), [^\n]*) \}\n/g, '$1, rate_limit: { requests: 1, per: 1m } }\n');
    assert.equal((limited.match(/rate_limit/g) ?? []).length, 2);
    const hooked = await startGateway(config(upstream.url, limited), { now: clock.now, hooks: [hook] });
    open.push(hooked);
    const status = async (headers: Record<string, string>): Promise<number> => {
      const res = await chat(hooked.url, { authorization: `Bearer ${ALICE}`, ...headers });
      await res.arrayBuffer();
      return res.status;
    };
    assert.equal(await status({ 'x-act-as': 'bob' }), 200, "bob's bucket");
    assert.equal(await status({}), 200, "alice's own bucket is untouched");
    assert.equal(await status({ 'x-act-as': 'bob' }), 429, "bob's limit, not alice's");
    assert.equal(await status({}), 429);
    const metrics = await (await fetch(`${hooked.adminUrl}/metrics`)).text();
    const counted = metrics.split('\n').filter((l) => l.startsWith('ai_gateway_key_requests_total{'));
    assert.deepEqual(counted.sort(), [
      'ai_gateway_key_requests_total{key="alice",team="payments",status="200"} 1',
      'ai_gateway_key_requests_total{key="alice",team="payments",status="429"} 1',
      'ai_gateway_key_requests_total{key="bob",team="",status="200"} 1',
      'ai_gateway_key_requests_total{key="bob",team="",status="429"} 1',
    ]);
  });
});

describe('tenancy: WebSocket upgrades', () => {
  let server: Server;
  let wss: WebSocketServer;
  let gw: Running;
  let upgrades = 0;

  before(async () => {
    server = createServer();
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket) => {
      upgrades++;
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    gw = await startGateway(
      config(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        keysYaml({ extraKeys: `    - { name: erin, sha256: "${hashKey(ERIN)}", rate_limit: { requests: 1, per: 1m } }\n    - { name: frank, sha256: "${hashKey(FRANK)}" }\n` }),
        '  limited: { targets: [{ upstream: up }], features: { rate_limit: { requests: 1, per: 1m, key: global } } }\n',
      ),
    );
  });
  after(async () => {
    await gw.close();
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  });

  const open = (headers: Record<string, string>, path = '/v1/realtime?model=gpt-realtime'): Promise<{ status: number; headers: Record<string, unknown>; body: string } | WebSocket> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`${gw.url.replace('http', 'ws')}${path}`, { headers });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      ws.once('error', reject);
    });

  test('an upgrade without a key is refused with the 401; a known key connects, with the upstream\'s credential', async () => {
    const refused = await open({});
    assert.ok(!(refused instanceof WebSocket));
    assert.equal(refused.status, 401);
    assert.equal(refused.headers['www-authenticate'], 'Bearer realm="sidegate"');
    assert.equal(JSON.parse(refused.body).error.code, 'invalid_api_key');
    const forbidden = await open({ authorization: `Bearer ${BOB}` }, '/router/fast/v1/realtime');
    assert.ok(!(forbidden instanceof WebSocket));
    assert.equal(forbidden.status, 403);
    assert.equal(upgrades, 0);
    const ws = await open({ authorization: `Bearer ${ALICE}` });
    assert.ok(ws instanceof WebSocket);
    ws.send('ping');
    const [message] = await once(ws, 'message');
    assert.equal(message.toString(), 'echo:ping');
    ws.close();
    assert.equal(upgrades, 1);
  });

  test('a WebSocket session counts as one request against the key\'s and the router\'s request limits', async () => {
    const before = upgrades;
    const first = await open({ authorization: `Bearer ${ERIN}` });
    assert.ok(first instanceof WebSocket);
    first.close();
    const second = await open({ authorization: `Bearer ${ERIN}` });
    assert.ok(!(second instanceof WebSocket));
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers['retry-after']) > 0);
    assert.equal(JSON.parse(second.body).error.code, 'rate_limit_exceeded');
    assert.match(JSON.parse(second.body).error.message, /key "erin"/);
    assert.equal(upgrades, before + 1);

    // The router's own limit (global): one session, whoever opens it.
    const viaRouter = await open({ authorization: `Bearer ${FRANK}` }, '/router/limited/v1/realtime');
    assert.ok(viaRouter instanceof WebSocket);
    viaRouter.close();
    const again = await open({ authorization: `Bearer ${FRANK}` }, '/router/limited/v1/realtime');
    assert.ok(!(again instanceof WebSocket));
    assert.equal(again.status, 429);
    assert.equal(JSON.parse(again.body).error.code, 'rate_limit_exceeded');
    assert.equal(upgrades, before + 2);
  });
});

describe('tenancy: the keys file', () => {
  test('is watched and reloaded; a bad keys file never replaces the good one', async () => {
    const upstream = await MockUpstream.start();
    const dir = mkdtempSync(join(tmpdir(), 'sidegate-keys-'));
    const keysFile = join(dir, 'keys.yaml');
    const write = (text: string): void => {
      writeFileSync(`${keysFile}.tmp`, text);
      renameSync(`${keysFile}.tmp`, keysFile); // as a Secret update swaps the file
    };
    write(`- { name: alice, sha256: "${hashKey(ALICE)}" }\n`);
    const yaml = config(upstream.url, `auth:\n  keys_file: ${keysFile}\n`);
    const gw = await startGateway(yaml);
    try {
      const status = async (key: string): Promise<number> => {
        const res = await chat(gw.url, { authorization: `Bearer ${key}` });
        await res.arrayBuffer();
        return res.status;
      };
      assert.equal(await status(ALICE), 200);
      assert.equal(await status(BOB), 401);

      let reloaded = once(gw.gateway, 'reload');
      write(`- { name: alice, sha256: "${hashKey(ALICE)}" }\n- { name: bob, sha256: "${hashKey(BOB)}" }\n`);
      await reloaded;
      assert.equal(await status(BOB), 200, 'the new key works without touching the config');

      const failed = once(gw.gateway, 'reload_error');
      write(`- { name: alice, sha256: "not-a-hash" }\n`);
      const [err] = await failed;
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, '[0].sha256: the value is not text matching ^[0-9a-fA-F]{64}$ (keys.yaml:1:26)');
      assert.equal(await status(BOB), 200, 'the good keys stay');

      reloaded = once(gw.gateway, 'reload');
      write(`- { name: bob, sha256: "${hashKey(BOB)}" }\n`);
      await reloaded;
      assert.equal(await status(ALICE), 401, 'removed from the file, refused');
      assert.equal(await status(BOB), 200);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});

describe('tenancy: validation', () => {
  const base = (upstreamAuth: string, tenancy: string): string => `
version: 1
upstreams:
  up: { provider: openai, url: "http://127.0.0.1:1"${upstreamAuth} }
routers:
  main: { targets: [{ upstream: up }] }
${tenancy}`;
  const issues = (yaml: string): string[] => {
    try {
      loadConfigText(yaml, 'gateway.yaml');
    } catch (err) {
      if (err instanceof ConfigError) return err.message.split('\n');
      throw err;
    }
    return [];
  };

  test('with auth.keys, an upstream on passthrough is an error naming it', () => {
    const keys = `auth:\n  keys:\n    - { name: a, sha256: "${hashKey('x')}" }\n`;
    assert.deepEqual(issues(base('', keys)), [
      'upstreams.up.provider: upstream "up" would forward the caller\'s credential (auth: passthrough, the default), but with auth.keys the caller holds a gateway key: give the upstream its own, e.g. auth: { bearer: "${OPENAI_API_KEY}" } (gateway.yaml:4:19)',
    ]);
    assert.equal(issues(base(', auth: passthrough', keys)).length, 1);
    assert.deepEqual(issues(base(', auth: { bearer: t }', keys)), []);
  });

  test('unknown teams and routers, duplicate names and hashes, bad dates', () => {
    const yaml = base(', auth: { bearer: t }', `auth:
  keys:
    - { name: a, sha256: "${hashKey('x')}", team: paymnts, routers: [mian] }
    - { name: a, sha256: "${hashKey('x')}", expires: "2025-02-30T99:00:00Z" }
teams:
  payments: { routers: [nope] }
`);
    assert.deepEqual(issues(yaml), [
      'auth.keys[0].team: unknown team "paymnts" (gateway.yaml:9:100), did you mean "payments"?',
      'auth.keys[0].routers[0]: unknown router "mian" (gateway.yaml:9:119), did you mean "main"?',
      'auth.keys[1].name: key name "a" is already used (in auth.keys) (gateway.yaml:10:15)',
      'auth.keys[1].sha256: this sha256 is already the hash of key "a": each key is a different secret (gateway.yaml:10:26)',
      'auth.keys[1].expires: "2025-02-30T99:00:00Z" is not a real date (gateway.yaml:10:103)',
      'teams.payments.routers[0]: unknown router "nope"; routers are: main (gateway.yaml:12:25)',
    ]);
  });

  test('state.redis names exactly one of url, nodes, sentinels', () => {
    const state = (redis: string): string => base(', auth: { bearer: t }', `state: { backend: redis, redis: ${redis} }\n`);
    assert.deepEqual(issues(state('{ url: "redis://h:1", nodes: ["h:2"] }')).map((l) => l.replace(/ \(gateway.*/, '')), ['state.redis: set only one of `url`, `nodes`, `sentinels` (it sets url and nodes)']);
    assert.deepEqual(issues(state('{ prefix: "x:" }')).map((l) => l.replace(/ \(gateway.*/, '')), ['state.redis: needs one of `url` (one server), `nodes` (a Redis Cluster) or `sentinels` with `name`']);
    assert.deepEqual(issues(state('{ sentinels: ["h:26379"] }')).map((l) => l.replace(/ \(gateway.*/, '')), ['state.redis: "sentinels" also needs "name"']);
    assert.deepEqual(issues(state('{ sentinels: ["h:26379"], name: mymaster }')), []);
  });
});
