import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

describe('router selection, model rewrite and upstream auth', () => {
  let a: MockUpstream;
  let b: MockUpstream;
  let gw: Running;

  before(async () => {
    a = await MockUpstream.start();
    b = await MockUpstream.start();
    gw = await startGateway(
      `
version: 1
logging: { level: silent }
upstreams:
  a: { provider: openai, url: ${a.url} }
  b:
    provider: openai_compatible
    url: ${b.url}/v1
    auth: { bearer: "\${UPSTREAM_KEY}" }
  c:
    provider: openai_compatible
    url: ${b.url}
    auth: { header: x-api-key, value: header-secret }
default_router: general
routers:
  general:
    targets: [{ upstream: a }]
  fast:
    aliases: [gpt-fast]
    targets: [{ upstream: b, model: llama-3-8b }]
  keyed:
    targets: [{ upstream: c }]
`,
      { env: { UPSTREAM_KEY: 'sk-injected-upstream-key' } },
    );
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  const ask = (baseURL: string, model: string, apiKey = 'sk-caller') =>
    new OpenAI({ baseURL, apiKey, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] });

  test('a model that names no router goes to default_router, unchanged, with the caller key', async () => {
    const answer = await ask(`${gw.url}/v1`, 'gpt-4o');
    assert.equal(answer.model, 'gpt-4o');
    const got = a.received.at(-1)!;
    assert.equal(got.json().model, 'gpt-4o');
    assert.equal(got.headers.authorization, 'Bearer sk-caller');
  });

  test('a model equal to an alias selects its router; the target rewrites the model', async () => {
    const answer = await ask(`${gw.url}/v1`, 'gpt-fast');
    assert.equal(answer.model, 'llama-3-8b');
    const got = b.received.at(-1)!;
    assert.equal(got.url, '/v1/chat/completions', 'a base URL ending in /v1 is not doubled');
    assert.equal(got.json().model, 'llama-3-8b');
  });

  test('an injected bearer replaces the caller key, which never reaches the upstream', async () => {
    await ask(`${gw.url}/v1`, 'fast', 'sk-caller-secret');
    const got = b.received.at(-1)!;
    assert.equal(got.headers.authorization, 'Bearer sk-injected-upstream-key');
    assert.ok(!JSON.stringify(got.headers).includes('sk-caller-secret'));
  });

  test('an injected header credential: the caller Authorization is dropped', async () => {
    await ask(`${gw.url}/v1`, 'keyed', 'sk-caller-secret');
    const got = b.received.at(-1)!;
    assert.equal(got.headers['x-api-key'], 'header-secret');
    assert.equal(got.headers.authorization, undefined);
  });

  test('/router/{name}/v1 works as an SDK baseURL and pins the router whatever the model', async () => {
    await ask(`${gw.url}/router/fast/v1`, 'gpt-4o');
    assert.equal(b.received.at(-1)!.json().model, 'llama-3-8b');
  });

  test('GET /router/{name}/v1/models reaches that router’s upstream', async () => {
    const before = b.received.length;
    const res = await fetch(`${gw.url}/router/keyed/v1/models`, { headers: { authorization: 'Bearer sk-caller' } });
    assert.equal(res.status, 200);
    assert.equal(b.received.length, before + 1);
    assert.equal(b.received.at(-1)!.url, '/v1/models');
  });

  test('hop-by-hop headers do not cross; the query string does', async () => {
    const res = await fetch(`${gw.url}/v1/models?limit=2`, { headers: { 'x-custom': 'kept', 'proxy-authorization': 'Basic Zm9v' } });
    assert.equal(res.status, 200);
    const got = a.received.at(-1)!;
    assert.equal(got.url, '/v1/models?limit=2');
    assert.equal(got.headers['x-custom'], 'kept');
    assert.equal(got.headers['proxy-authorization'], undefined);
  });

  test('a caller x-request-id is propagated upstream and returned', async () => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { 'x-request-id': 'req-from-app-42' } });
    assert.equal(res.headers.get('x-request-id'), 'req-from-app-42');
    assert.equal(a.received.at(-1)!.headers['x-request-id'], 'req-from-app-42');
  });
});
