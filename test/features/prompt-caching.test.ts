import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chatCompletion, chunk, MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

/** $1 per fresh input token, $0.10 per cached one, $2 per one written to the cache. */
const PRICING = 'pricing:\n  cachey: { input: 1000000, output: 0, cached_input: 100000, cache_write: 2000000 }\n';
const LONG_SYSTEM = Array.from({ length: 1200 }, (_, i) => `rule${i}`).join(' ');
/** Tools long enough to be a cached prefix of their own (Anthropic's order: tools, system, messages). */
const TOOLS = [{ name: 'weather', description: Array.from({ length: 1100 }, (_, i) => `detail${i}`).join(' '), input_schema: { type: 'object', properties: { city: { type: 'string' } } } }];
const EPHEMERAL = { type: 'ephemeral' };

async function stats(gw: Running): Promise<any> {
  return ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.main;
}

describe('prompt_caching', () => {
  let claude: MockUpstream;
  let openai: MockUpstream;
  let gw: Running;

  before(async () => {
    claude = await MockUpstream.start();
    openai = await MockUpstream.start();
    gw = await startGateway(
      `
version: 1
logging: { level: silent }
${PRICING}upstreams:
  claude: { provider: anthropic, url: ${claude.url} }
  gpt: { provider: openai, url: ${openai.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: claude }, { upstream: gpt }]
    features:
      fallback: {}
      budget: { usd: 1000000, period: day }
      prompt_caching: {}
  direct:
    targets: [{ upstream: gpt }]
    features:
      prompt_caching: {}
`,
    );
  });
  after(async () => {
    await gw.close();
    await claude.close();
    await openai.close();
  });

  test('Anthropic target: cache_control on the tools, the system prompt and the last stable turn; cached tokens priced at the cached rate', async () => {
    claude.script(
      steps.json(200, { id: 'msg_1', type: 'message', role: 'assistant', model: 'cachey', content: [{ type: 'text', text: 'Hi.' }], usage: { input_tokens: 5, cache_read_input_tokens: 100, cache_creation_input_tokens: 10, output_tokens: 3 } }),
    );
    const messages = [
      { role: 'user', content: 'First question?' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question?' },
    ];
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'cachey', max_tokens: 10, system: LONG_SYSTEM, tools: TOOLS, messages }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const sent = claude.received.at(-1)!.json();
    assert.deepEqual(sent.tools, [{ ...TOOLS[0], cache_control: EPHEMERAL }]);
    assert.deepEqual(sent.system, [{ type: 'text', text: LONG_SYSTEM, cache_control: EPHEMERAL }]);
    assert.deepEqual(sent.messages, [messages[0], { role: 'assistant', content: [{ type: 'text', text: 'First answer.', cache_control: EPHEMERAL }] }, messages[2]]);
    assert.equal(sent.prompt_cache_key, undefined);

    // 5 fresh × $1 + 100 cached × $0.10 + 10 written × $2 = $35 (not 115 × $1).
    assert.deepEqual((await stats(gw)).budget.spenders.main, { spend_usd: 35, reserved_usd: 0, remaining_usd: 1000000 - 35 });
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_tokens_total\{router="main",upstream="claude",model="cachey",kind="prompt"\} 115/);
    assert.match(metrics, /ai_gateway_tokens_total\{router="main",upstream="claude",model="cachey",kind="cached_prompt"\} 100/);
  });

  test("never more than four breakpoints with the caller's own; a short prefix gets none", async () => {
    const own = { type: 'text', text: 'x', cache_control: EPHEMERAL };
    const messages = [
      { role: 'user', content: [own, own, own] },
      { role: 'assistant', content: 'A.' },
      { role: 'user', content: 'Q?' },
    ];
    await (await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'cachey', max_tokens: 5, system: LONG_SYSTEM, tools: TOOLS, messages }) })).arrayBuffer();
    const sent = claude.received.at(-1)!.json();
    assert.deepEqual(sent.messages[1], { role: 'assistant', content: [{ type: 'text', text: 'A.', cache_control: EPHEMERAL }] }, 'the furthest breakpoint first');
    assert.equal(sent.system, LONG_SYSTEM, 'the budget of four is spent');
    assert.deepEqual(sent.tools, TOOLS);

    await (await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'cachey', max_tokens: 5, system: 'short', messages: messages.slice(1) }) })).arrayBuffer();
    assert.equal(claude.received.at(-1)!.json().system, 'short');
  });

  test('a fallback to an OpenAI target takes the breakpoints off and sets prompt_cache_key instead', async () => {
    claude.script(steps.json(503, { type: 'error', error: { type: 'overloaded_error', message: 'busy' } }));
    openai.script(steps.json(200, chatCompletion('cachey', 'ok', { prompt_tokens: 100, completion_tokens: 1, total_tokens: 101, prompt_tokens_details: { cached_tokens: 80 } } as any)));
    const before = (await stats(gw)).budget.spenders.main.spend_usd;
    const messages = [
      { role: 'system', content: LONG_SYSTEM },
      { role: 'user', content: 'One?' },
      { role: 'assistant', content: 'Two.' },
      { role: 'user', content: 'Three?' },
    ];
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'cachey', messages: messages as any }).withResponse();
    assert.equal(response.headers.get('x-sidegate-target'), 'gpt');
    const toClaude = claude.received.at(-1)!.json();
    // Translated to Anthropic's API: the system prompt is a block carrying the breakpoint.
    assert.deepEqual(toClaude.system, [{ type: 'text', text: LONG_SYSTEM, cache_control: EPHEMERAL }]);
    const toGpt = openai.received.at(-1)!.json();
    assert.deepEqual(toGpt.messages, messages, 'no cache_control reaches OpenAI');
    assert.match(toGpt.prompt_cache_key, /^sg-[0-9a-f]{24}$/);
    // 20 fresh × $1 + 80 cached × $0.10 = $28.
    assert.equal((await stats(gw)).budget.spenders.main.spend_usd, before + 28);
  });

  test('OpenAI target: the same system prompt gets the same prompt_cache_key (streamed too); a caller-set key stays', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/router/direct/v1`, apiKey: 'sk-x', maxRetries: 0 });
    const messages = (system: string) => [{ role: 'system' as const, content: system }, { role: 'user' as const, content: 'hi' }];
    const ask = (system: string, extra: { prompt_cache_key?: string } = {}) => client.chat.completions.create({ model: 'gpt-4o', messages: messages(system), ...extra });
    await ask('Be kind.');
    const first = openai.received.at(-1)!.json().prompt_cache_key;
    openai.script(steps.sse([chunk('gpt-4o', 'ok'), chunk('gpt-4o', null, 'stop')]));
    for await (const _ of await client.chat.completions.create({ model: 'gpt-4o', messages: messages('Be kind.'), stream: true }));
    assert.equal(openai.received.at(-1)!.json().prompt_cache_key, first);
    await ask('Be blunt.');
    assert.notEqual(openai.received.at(-1)!.json().prompt_cache_key, first);
    await ask('Be kind.', { prompt_cache_key: 'mine' });
    assert.equal(openai.received.at(-1)!.json().prompt_cache_key, 'mine');
  });
});
