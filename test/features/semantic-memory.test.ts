import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

function chat(url: string, user: string, content: string, format: 'openai' | 'anthropic' = 'openai') {
  const path = format === 'openai' ? '/v1/chat/completions' : '/v1/messages';
  const body = format === 'openai'
    ? { model: 'gpt-4o', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }] }
    : { model: 'gpt-4o', max_tokens: 50, system: 'Be brief.', messages: [{ role: 'user', content }] };
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': user }, body: JSON.stringify(body) });
}

describe('semantic_memory', () => {
  let upstream: MockUpstream;
  let claude: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start(steps.chat('Noted.'));
    claude = await MockUpstream.start(steps.json(200, { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'Noted.' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
  claude: { provider: anthropic, url: ${claude.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      semantic_memory: { scope: "header:x-user-id", top_k: 2 }
  anthropic:
    targets: [{ upstream: claude }]
    features:
      semantic_memory: { scope: "header:x-user-id" }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await claude.close();
  });

  test("a user's earlier statements reach later requests as a system message; another user's never do", async () => {
    for (const said of ['My dog is called Rex and he is a beagle.', 'I live in Lisbon near the river.', 'My favourite colour is green.']) {
      const res = await chat(gw.url, 'ada', said);
      assert.equal(res.status, 200);
      await res.text();
    }
    const res = await chat(gw.url, 'ada', 'What breed is my dog Rex?');
    assert.equal(res.headers.get('x-sidegate-memory'), '1');
    await res.text();
    const sent = upstream.received.at(-1)!.json();
    assert.deepEqual(sent.messages.map((m: any) => m.role), ['system', 'system', 'user'], 'after the caller\'s system prompt, before the turn');
    assert.match(sent.messages[1].content, /^Things the user said in earlier conversations/);
    assert.match(sent.messages[1].content, /- My dog is called Rex and he is a beagle\./);
    assert.doesNotMatch(sent.messages[1].content, /Lisbon|green/, 'only the relevant statement');

    const other = await chat(gw.url, 'bob', 'What breed is my dog Rex?');
    assert.equal(other.headers.get('x-sidegate-memory'), '0');
    await other.text();
    assert.equal(upstream.received.at(-1)!.json().messages.length, 2);
  });

  test('DELETE /memory?scope= forgets one user', async () => {
    await (await chat(gw.url, 'cy', 'My car is a red Volvo from 1998.')).text();
    const bad = await fetch(`${gw.adminUrl}/memory`, { method: 'DELETE' });
    assert.equal(bad.status, 400);
    const forgot = await fetch(`${gw.adminUrl}/memory?scope=cy`, { method: 'DELETE' });
    assert.deepEqual(await forgot.json(), { scope: 'cy', routers: ['main', 'anthropic'], removed: 1 });
    const res = await chat(gw.url, 'cy', 'What colour is my Volvo car?');
    assert.equal(res.headers.get('x-sidegate-memory'), '0');
    await res.text();
    assert.equal((await fetch(`${gw.adminUrl}/memory?scope=cy&router=nope`, { method: 'DELETE' })).status, 404);
  });

  test("Anthropic callers: the memory joins the request's system prompt", async () => {
    const pinned = `${gw.url}/router/anthropic`;
    await (await chat(pinned, 'di', 'I am allergic to peanuts and shellfish.', 'anthropic')).text();
    const res = await chat(pinned, 'di', 'Which foods am I allergic to, peanuts?', 'anthropic');
    assert.equal(res.headers.get('x-sidegate-memory'), '1');
    await res.text();
    const sent = claude.received.at(-1)!.json();
    assert.match(sent.system, /^Be brief\.\n\nThings the user said in earlier conversations[^]*- I am allergic to peanuts and shellfish\./);
  });
});

describe('semantic_memory scoped by gateway key (tenancy)', () => {
  let upstream: MockUpstream;
  let gw: Running;
  const sha = (key: string) => createHash('sha256').update(key).digest('hex');

  before(async () => {
    upstream = await MockUpstream.start(steps.chat('Noted.'));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url}, auth: { bearer: sk-upstream } }
auth:
  keys:
    - { name: app-a, sha256: "${sha('sg-key-a')}" }
    - { name: app-b, sha256: "${sha('sg-key-b')}" }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      semantic_memory: { scope: key }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test("a key's memory is its own, named by the key's name in DELETE /memory", async () => {
    const ask = (key: string, content: string) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content }] }),
      });
    await (await ask('sg-key-a', 'Our deploys run every Tuesday at noon.')).text();
    const same = await ask('sg-key-a', 'When do our deploys run, on Tuesday?');
    assert.equal(same.headers.get('x-sidegate-memory'), '1');
    await same.text();
    const other = await ask('sg-key-b', 'When do our deploys run, on Tuesday?');
    assert.equal(other.headers.get('x-sidegate-memory'), '0');
    await other.text();
    const forgot = await fetch(`${gw.adminUrl}/memory?scope=app-a`, { method: 'DELETE' });
    assert.equal(((await forgot.json()) as any).removed, 1);
  });
});
