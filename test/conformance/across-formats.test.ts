/**
 * Every feature across formats: fallback from an OpenAI target to an Anthropic one inside
 * one streamed request (and back) with the client seeing one coherent stream, retry on
 * Anthropic's 529, credentials that only reach an upstream of the caller's API, the cache
 * keyed by the caller's API, budgets priced per real model with cache tokens, token rate
 * limits from Anthropic's streamed usage, hedging across formats, and the mock answering
 * the Messages API.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { anthropicMessage, answer, failure, openaiCompletion } from './transcripts.js';

const CLAUDE = anthropicMessage([{ type: 'text', text: 'Claude answers.' }], 'end_turn', { input_tokens: 10, output_tokens: 4 });
const GPT = openaiCompletion({ content: 'GPT answers.' }, 'stop');

async function stats(gw: Running): Promise<any> {
  return (await (await fetch(`${gw.adminUrl}/stats`)).json()) as any;
}

describe('across formats: fallback, retry, credentials, cache, budget, rate limits, hedging', () => {
  let claude: MockUpstream;
  let gpt: MockUpstream;
  let gw: Running;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    claude = await MockUpstream.start(answer('anthropic', CLAUDE));
    gpt = await MockUpstream.start(answer('openai', GPT));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  claude: { provider: anthropic, url: ${claude.url} }
  gpt: { provider: openai, url: ${gpt.url} }
  local: { provider: mock }
routers:
  gpt-first:
    targets: [{ upstream: gpt, model: gpt-4o }, { upstream: claude, model: claude-sonnet-4-5 }]
    features: { fallback: {} }
  claude-first:
    targets: [{ upstream: claude, model: claude-sonnet-4-5 }, { upstream: gpt, model: gpt-4o }]
    features: { fallback: {} }
  claude-retry:
    targets: [{ upstream: claude, model: claude-sonnet-4-5 }]
    features: { retry: { attempts: 2, backoff: 1ms, max_backoff: 1ms } }
  cached:
    targets: [{ upstream: claude, model: claude-sonnet-4-5 }]
    features: { cache: { ttl: 1h } }
  priced:
    targets: [{ upstream: claude, model: claude-sonnet-4-5 }]
    features: { budget: { usd: 100, period: day } }
  limited:
    targets: [{ upstream: claude, model: claude-sonnet-4-5 }]
    features: { rate_limit: { requests: 100, tokens: 1000, per: 1h, key: global } }
  hedged:
    targets: [{ upstream: gpt, model: gpt-4o }, { upstream: claude, model: claude-sonnet-4-5 }]
    features: { hedging: { after: 1ms } }
  offline:
    targets: [{ upstream: local, model: mock-1 }]
`);
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-openai-caller', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-caller', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await claude.close();
    await gpt.close();
  });

  test('a streamed chat completion fails over from an OpenAI target to an Anthropic one: one coherent stream', async () => {
    gpt.script(failure('openai', 500, 'server_error', 'boom'));
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'gpt-first', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get('x-sidegate-target'), 'claude');
    assert.equal(response.headers.get('x-sidegate-attempts'), '2');
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.deepEqual(new Set(chunks.map((c) => c.object)), new Set(['chat.completion.chunk']));
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Claude answers.');
    assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(chunks.at(-1)!.usage, { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14, prompt_tokens_details: { cached_tokens: 0, cache_creation_tokens: 0 } });
    const sent = claude.received.at(-1)!;
    assert.equal(sent.json().model, 'claude-sonnet-4-5', "the fallback target's model");
    assert.equal(sent.headers.authorization, undefined, "passthrough: the caller's OpenAI key is not Anthropic's");
    assert.equal(sent.headers['x-api-key'], undefined);
    assert.equal(gpt.received.at(-1)!.headers.authorization, 'Bearer sk-openai-caller', 'but the OpenAI target got it');
  });

  test('and back: a streamed Anthropic request fails over from Anthropic (529) to OpenAI', async () => {
    claude.script(failure('anthropic', 529, 'overloaded_error', 'Overloaded'));
    const stream = anthropic.messages.stream({ model: 'claude-first', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const message = await stream.finalMessage();
    assert.deepEqual(message.content, [{ type: 'text', text: 'GPT answers.' }]);
    assert.equal(message.stop_reason, 'end_turn');
    // Current Anthropic SDKs send the key as `Authorization: Bearer`: on /v1/messages it is an Anthropic credential.
    assert.equal(claude.received.at(-1)!.headers.authorization, 'Bearer sk-ant-caller', 'the Anthropic target got the caller\'s Anthropic key');
    const sent = gpt.received.at(-1)!;
    assert.equal(sent.json().model, 'gpt-4o');
    assert.equal(sent.headers['x-api-key'], undefined, "the caller's Anthropic key never reaches OpenAI");
    assert.equal(sent.headers.authorization, undefined);
  });

  test('an Anthropic caller\'s bearer credential is an Anthropic credential; beta headers pass through natively', async () => {
    const res = await fetch(`${gw.url}/router/claude-first/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-ant-oauth', 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31' },
      body: JSON.stringify({ model: 'x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ...CLAUDE });
    const sent = claude.received.at(-1)!;
    assert.equal(sent.url, '/v1/messages');
    assert.equal(sent.headers.authorization, 'Bearer sk-ant-oauth');
    assert.equal(sent.headers['anthropic-beta'], 'prompt-caching-2024-07-31');
    assert.equal(sent.headers['anthropic-version'], '2023-06-01');
    assert.equal(sent.body.toString(), JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }));
  });

  test('retry: an Anthropic 529 is retried, for an OpenAI caller (as 503) and an Anthropic one', async () => {
    claude.script(failure('anthropic', 529, 'overloaded_error', 'Overloaded'));
    const { data, response } = await openai.chat.completions.create({ model: 'claude-retry', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'Claude answers.');
    assert.equal(response.headers.get('x-sidegate-attempts'), '2');
    claude.script(failure('anthropic', 529, 'overloaded_error', 'Overloaded'));
    const second = await anthropic.messages.create({ model: 'claude-retry', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.deepEqual(second.data.content, CLAUDE.content);
    assert.equal(second.response.headers.get('x-sidegate-attempts'), '2');
  });

  test('cache: an Anthropic answer is cached for Anthropic callers, and never served to an OpenAI caller', async () => {
    const ask = () => anthropic.messages.create({ model: 'cached', max_tokens: 10, messages: [{ role: 'user', content: 'cache me' }] }).withResponse();
    const first = await ask();
    assert.equal(first.response.headers.get('x-cache'), 'MISS');
    const calls = claude.received.length;
    const second = await ask();
    assert.equal(second.response.headers.get('x-cache'), 'HIT');
    assert.deepEqual(second.data, first.data);
    assert.equal(claude.received.length, calls);
    const other = await openai.chat.completions.create({ model: 'cached', max_tokens: 10, messages: [{ role: 'user', content: 'cache me' }] }).withResponse();
    assert.equal(other.response.headers.get('x-cache'), 'MISS');
    assert.equal(other.data.object, 'chat.completion');
  });

  test('budget: spend is priced per real model, with Anthropic cache reads and writes at their own prices', async () => {
    const usage = { input_tokens: 100_000, output_tokens: 10_000, cache_read_input_tokens: 200_000, cache_creation_input_tokens: 40_000 };
    claude.script(answer('anthropic', anthropicMessage([{ type: 'text', text: 'ok' }], 'end_turn', usage)));
    const stream = await openai.chat.completions.create({ model: 'priced', messages: [{ role: 'user', content: 'hi' }], stream: true });
    for await (const _ of stream) void _;
    await openai.models.list().catch(() => null); // another request through the gateway, so the first one is accounted for
    // claude-sonnet-4-5: 100k × $3 + 200k × $0.30 + 40k × $3.75 + 10k × $15 per 1M = 0.30 + 0.06 + 0.15 + 0.15.
    assert.deepEqual((await stats(gw)).routers.priced.budget.spenders.priced, { spend_usd: 0.66, reserved_usd: 0, remaining_usd: 99.34 });
  });

  test('rate limits in tokens read Anthropic\'s streamed usage (message_start and message_delta)', async () => {
    claude.script(answer('anthropic', anthropicMessage([{ type: 'text', text: 'ok' }], 'end_turn', { input_tokens: 900, output_tokens: 200 })));
    const stream = anthropic.messages.stream({ model: 'limited', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    await stream.finalMessage();
    await openai.models.list().catch(() => null);
    const refused = await anthropic.messages.create({ model: 'limited', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    assert.ok(refused instanceof Anthropic.RateLimitError, String(refused));
    assert.equal((refused.error as any).type, 'error');
    assert.equal((refused.error as any).error.type, 'rate_limit_error');
  });

  test('hedging across formats: the slow OpenAI try loses to the Anthropic one, in the caller\'s format', async () => {
    gpt.script(steps.hang());
    const { data, response } = await openai.chat.completions.create({ model: 'hedged', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(response.headers.get('x-sidegate-target'), 'claude');
    assert.equal(data.choices[0]!.message.content, 'Claude answers.');
    assert.equal(data.model, 'claude-sonnet-4-5-20250929');
  });

  test('the mock answers the Messages API, streaming too', async () => {
    const message = await anthropic.messages.create({ model: 'offline', max_tokens: 10, system: 'Be brief.', messages: [{ role: 'user', content: 'hello mock' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'This is the mock upstream. You said: hello mock' }]);
    assert.deepEqual(message.usage, { input_tokens: 4, output_tokens: 9, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    const streamed = await anthropic.messages.stream({ model: 'offline', max_tokens: 10, messages: [{ role: 'user', content: 'hello mock' }] }).finalMessage();
    assert.deepEqual(streamed.content, message.content);
    assert.equal(streamed.usage.output_tokens, 9);
    const counted = await anthropic.messages.countTokens({ model: 'offline', messages: [{ role: 'user', content: 'hello mock' }] });
    assert.equal(counted.input_tokens, 2);
  });
});
