import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { loadConfigText, ConfigError } from '../../src/index.js';

const yaml = (upstream: MockUpstream, prefetch: string) => `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      cache: {}
      response_prefetch: ${prefetch}
`;

/** The upstream answers with what it was asked last, so each answer names its question. */
function echo(upstream: MockUpstream): void {
  upstream.fallback = (req, res) => steps.chat(`answer to: ${req.json().messages.at(-1).content}`)(req, res);
}

describe('response_prefetch', () => {
  let upstream: MockUpstream;
  let gw: Running;
  before(async () => {
    upstream = await MockUpstream.start();
    echo(upstream);
    gw = await startGateway(yaml(upstream, '{ follow_ups: ["Tell me more."], learn: { top: 1, min_count: 2 } }'));
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('a configured follow-up is asked in the background; the client then gets it from the cache', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-tenant', maxRetries: 0 });
    const first = [{ role: 'user' as const, content: 'What is a beagle?' }];
    const answer = await client.chat.completions.create({ model: 'gpt-4o', messages: first });
    await upstream.waitFor(2); // the warming request
    const warming = upstream.received[1]!;
    assert.equal(warming.headers.authorization, 'Bearer sk-tenant', 'warmed for the same tenant');
    assert.deepEqual(warming.json().messages.map((m: any) => m.content), ['What is a beagle?', 'answer to: What is a beagle?', 'Tell me more.']);

    // The client appends the answer's message as the SDK gave it, and asks the follow-up.
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o', messages: [...first, answer.choices[0]!.message, { role: 'user', content: 'Tell me more.' }] })
      .withResponse();
    assert.equal(response.headers.get('x-cache'), 'HIT');
    assert.equal(data.choices[0]!.message.content, 'answer to: Tell me more.');
    // The follow-up's answer was a hit: it starts no prefetch of its own, and warming requests never chain.
    const stats = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.response_prefetch;
    assert.equal(stats.sent, 1);
    assert.equal(upstream.received.length, 2);
  });

  test('learned follow-ups: the most frequent next turn after a prompt is prefetched once it was seen twice', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-learn', maxRetries: 0 });
    const ask = (messages: any[]) => client.chat.completions.create({ model: 'gpt-4o', messages });
    const opening = { role: 'user', content: 'Recommend a city to visit.' };
    // Two users asked "And when?" right after the opening (each answer also warms "Tell me more.").
    const start = upstream.received.length;
    for (const user of ['u1', 'u2']) {
      await ask([opening, { role: 'assistant', content: `Porto (${user})` }, { role: 'user', content: 'And when?' }]);
    }
    await upstream.waitFor(start + 4);
    const before = upstream.received.length;
    await ask([opening]);
    await upstream.waitFor(before + 3); // the answer, "Tell me more." and the learned "And when?"
    const asked = upstream.received.slice(before + 1).map((r) => r.json().messages.at(-1).content).sort();
    assert.deepEqual(asked, ['And when?', 'Tell me more.']);
  });
});

test('a router with response_prefetch and no cache is a config error', () => {
  assert.throws(
    () => loadConfigText(`
version: 1
upstreams: { up: { provider: mock } }
routers:
  main:
    targets: [{ upstream: up }]
    features: { response_prefetch: { follow_ups: ["more"] } }
`, 'gateway.yaml'),
    (err: unknown) => err instanceof ConfigError && /routers\.main\.features\.response_prefetch: router "main" has response_prefetch but no cache or semantic_cache to warm \(gateway\.yaml:7:36\)/.test(err.message),
  );
});
