import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { logSink } from '../support/log-sink.js';
import { fingerprintOf } from '../../src/features/response-fingerprinting.js';

describe('response_fingerprinting', () => {
  let a: MockUpstream;
  let b: MockUpstream;
  let gw: Running;
  const log = logSink();

  before(async () => {
    // Both targets give one canned answer, whatever they are asked: a stuck upstream.
    a = await MockUpstream.start(steps.chat('I cannot help with that.'));
    b = await MockUpstream.start(steps.chat('i cannot   help with that.'));
    gw = await startGateway(
      `
version: 1
logging: { level: info }
upstreams:
  a: { provider: openai, url: ${a.url} }
  b: { provider: openai, url: ${b.url} }
default_router: main
routers:
  main:
    strategy: round_robin
    targets: [{ upstream: a }, { upstream: b }]
    features:
      response_fingerprinting: {}
`,
      { logger: log.logger },
    );
  });
  after(async () => {
    await gw.close();
    await a.close();
    await b.close();
  });

  test('the same answer (case and spacing aside) has one fingerprint; repeats across prompts and targets are counted', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const ask = (content: string) => client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).withResponse();
    const first = await ask('What is the capital of France?'); // target a
    const second = await ask('What is the capital of France?'); // target b: same prompt, another target
    const third = await ask('Write a haiku about autumn.'); // target a: another prompt
    const expected = fingerprintOf('I cannot help with that.');
    for (const r of [first, second, third]) assert.equal(r.response.headers.get('x-sidegate-fingerprint'), expected);
    assert.equal(second.data.choices[0]!.message.content, 'i cannot   help with that.', 'the answer itself is untouched');

    const stats = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main.response_fingerprinting;
    assert.deepEqual(
      { answers: stats.answers, top: stats.top_repeats.map((r: any) => [r.fingerprint, r.count, r.prompts, r.targets.sort()]) },
      { answers: 3, top: [[expected, 3, 2, ['a', 'b']]] },
    );
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_repeated_answers_total\{router="main",kind="other_target"\} 1/);
    assert.match(metrics, /ai_gateway_repeated_answers_total\{router="main",kind="other_prompt"\} 1/);
    const access = await log.accessLines(3);
    assert.deepEqual(access.slice(-3).map((l) => [l.fingerprint, l.repeated_answer]), [[expected, undefined], [expected, 'other_target'], [expected, 'other_prompt']]);
  });

  test('a stream is fingerprinted from its text, in the access line', async () => {
    a.script(steps.sse([chunk('gpt-4o', 'I cannot '), chunk('gpt-4o', 'help with that.'), chunk('gpt-4o', null, 'stop')]));
    b.script(steps.sse([chunk('gpt-4o', 'I cannot '), chunk('gpt-4o', 'help with that.'), chunk('gpt-4o', null, 'stop')]));
    const before = (await log.accessLines(0)).length;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    let text = '';
    for await (const e of await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'stream it' }], stream: true })) {
      text += e.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'I cannot help with that.');
    const access = await log.accessLines(before + 1);
    assert.equal(access.at(-1).fingerprint, fingerprintOf(text));
    assert.equal(access.at(-1).repeated_answer, 'other_prompt');
  });
});
