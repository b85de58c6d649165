import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { embedLocal } from '../../src/embeddings/index.js';
import { MockUpstream, steps } from '../support/mock-upstream.js';
import { backendFixture, featureYaml, REDIS_SKIP } from '../support/redis.js';
import { startCli } from '../support/cli.js';

function ask(url: string, content: string, opts: { auth?: string; system?: string; extra?: Record<string, unknown> } = {}) {
  const messages = [...(opts.system ? [{ role: 'system', content: opts.system }] : []), { role: 'user', content }];
  return fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: opts.auth ?? 'Bearer tenant-a' },
    body: JSON.stringify({ model: 'gpt-4o', messages, ...opts.extra }),
  });
}

/** The mock upstream answers each chat with the prompt it got, so a served answer shows whose it was. */
const echo = steps.chat;
function answerOf(upstream: MockUpstream): void {
  upstream.fallback = (req, res) => echo(`answer to: ${req.json().messages.at(-1).content}`)(req, res);
}

for (const backend of ['memory', 'redis'] as const) {
  describe(`semantic_cache (${backend})`, { skip: backend === 'redis' && REDIS_SKIP }, () => {
    const fx = backendFixture(backend, 'semcache');

    test('a paraphrase is answered from the cache; an unrelated prompt goes upstream', async () => {
      answerOf(fx.upstream);
      const gw = await fx.start(featureYaml(fx.upstream.url, 'semantic_cache: {}', { state: fx.state() }));
      const before = fx.upstream.received.length;
      const first = await ask(gw.url, 'How do I reset my password?');
      assert.equal(first.status, 200);
      const firstBody = await first.text();
      const paraphrase = await ask(gw.url, 'how can I reset my password');
      assert.equal(paraphrase.headers.get('x-cache'), 'SEMANTIC_HIT');
      assert.ok(Number(paraphrase.headers.get('x-sidegate-similarity')) >= 0.8);
      assert.equal(await paraphrase.text(), firstBody, 'the stored answer, byte for byte');
      const unrelated = await ask(gw.url, 'What is the capital of France?');
      assert.equal(unrelated.headers.get('x-cache'), null);
      assert.match(((await unrelated.json()) as any).choices[0].message.content, /capital of France/);
      assert.equal(fx.upstream.received.length - before, 2);
    });

    test('tenants, system prompts and sampled requests never share', async () => {
      answerOf(fx.upstream);
      const gw = await fx.start(featureYaml(fx.upstream.url, 'semantic_cache: {}', { state: fx.state() }));
      await (await ask(gw.url, 'How do I cancel my subscription?')).text();
      const otherTenant = await ask(gw.url, 'how do i cancel my subscription', { auth: 'Bearer tenant-b' });
      assert.equal(otherTenant.headers.get('x-cache'), null);
      const otherSystem = await ask(gw.url, 'how do i cancel my subscription', { system: 'Answer in French.' });
      assert.equal(otherSystem.headers.get('x-cache'), null);
      const sampled = await ask(gw.url, 'how do i cancel my subscription', { extra: { temperature: 0.7 } });
      assert.equal(sampled.headers.get('x-cache'), null);
      const same = await ask(gw.url, 'how do i cancel my subscription?');
      assert.equal(same.headers.get('x-cache'), 'SEMANTIC_HIT');
      await Promise.all([otherTenant.text(), otherSystem.text(), sampled.text(), same.text()]);
    });

    test('streams: a stored answer is replayed to a streaming paraphrase through the SDK', async () => {
      answerOf(fx.upstream);
      const gw = await fx.start(featureYaml(fx.upstream.url, 'semantic_cache: {}', { state: fx.state() }));
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'tenant-a', maxRetries: 0 });
      await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Explain how photosynthesis works.' }] });
      const before = fx.upstream.received.length;
      const { data: stream, response } = await client.chat.completions
        .create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Can you explain how photosynthesis works?' }], stream: true })
        .withResponse();
      let text = '';
      for await (const event of stream) text += event.choices[0]?.delta.content ?? '';
      assert.equal(response.headers.get('x-cache'), 'SEMANTIC_HIT');
      assert.equal(text, 'answer to: Explain how photosynthesis works.');
      assert.equal(fx.upstream.received.length, before);
    });
  });
}

describe('semantic_cache with the exact cache and an upstream embedder', () => {
  let upstream: MockUpstream;
  let embeddings: MockUpstream;
  const fx = backendFixture('memory', 'semcache-up');
  before(async () => {
    upstream = await MockUpstream.start();
    answerOf(upstream);
    // An embeddings endpoint (vectors from the local embedder, so paraphrases land close).
    embeddings = await MockUpstream.start((req, res) => {
      const body = req.json();
      const data = body.input.map((text: string, index: number) => ({ object: 'embedding', index, embedding: Array.from(embedLocal(text)) }));
      return steps.json(200, { object: 'list', data, model: body.model })(req, res);
    });
  });
  after(async () => {
    await upstream.close();
    await embeddings.close();
  });

  test('the exact cache answers first; a paraphrase is a semantic hit, embedded by the named upstream', async () => {
    const yaml = `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
  emb: { provider: openai, url: ${embeddings.url}, auth: { bearer: sk-embeddings } }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      cache: {}
      semantic_cache: { embedder: { upstream: emb, model: text-embedding-3-small }, threshold: 0.8 }
`;
    const gw = await fx.start(yaml);
    const first = await ask(gw.url, 'What are the opening hours of the Berlin store?');
    assert.equal(first.headers.get('x-cache'), 'MISS');
    await first.text();
    const again = await ask(gw.url, 'What are the opening hours of the Berlin store?');
    assert.equal(again.headers.get('x-cache'), 'HIT', 'the exact cache first');
    await again.text();
    const paraphrase = await ask(gw.url, 'Berlin store opening hours?');
    assert.equal(paraphrase.headers.get('x-cache'), 'SEMANTIC_HIT');
    await paraphrase.text();
    const call = embeddings.received[0]!;
    assert.equal(call.headers.authorization, 'Bearer sk-embeddings');
    assert.equal(call.json().model, 'text-embedding-3-small');
    assert.equal(upstream.received.length, 1);
  });
});

describe('a Redis-backed semantic cache is shared by two gateway processes', { skip: REDIS_SKIP }, () => {
  const fx = backendFixture('redis', 'semcache-two');

  test('an answer stored by one process serves a paraphrase sent to the other', async () => {
    answerOf(fx.upstream);
    const yaml = featureYaml(fx.upstream.url, 'semantic_cache: {}', { state: fx.state() });
    const inProcess = await fx.start(yaml);
    const dir = mkdtempSync(join(tmpdir(), 'sidegate-semcache-'));
    const file = join(dir, 'gateway.yaml');
    // The process announces its address in its log, so it logs at info.
    writeFileSync(file, `${yaml.replace('level: silent', 'level: info, access: false')}\nserver: { listen: "127.0.0.1:0", admin: "127.0.0.1:0" }\n`);
    const other = await startCli(file, ['--no-watch']);
    try {
      await (await ask(inProcess.url, 'Where can I download the invoice for my last order?')).text();
      const before = fx.upstream.received.length;
      const res = await ask(other.url, 'where can i download the invoice for my last order');
      assert.equal(res.headers.get('x-cache'), 'SEMANTIC_HIT');
      assert.equal(((await res.json()) as any).choices[0].message.content, 'answer to: Where can I download the invoice for my last order?');
      assert.equal(fx.upstream.received.length, before);
    } finally {
      other.cli.kill('SIGTERM');
      await other.cli.exited;
    }
  });
});
