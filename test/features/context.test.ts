import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chatCompletion, chunk, MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { logSink } from '../support/log-sink.js';
import { countRequestTokens, countTokens } from '../../src/tokens/index.js';

const words = (tag: string, n: number): string => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ');

/** A chat with a tool call and its result in the middle; the last user turn at the end. */
function toolChat() {
  return [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: words('old', 60) },
    { role: 'assistant', content: words('reply', 40) },
    { role: 'user', content: 'What is the weather?' },
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
    { role: 'tool', tool_call_id: 'call_1', content: words('sunny', 50) },
    { role: 'assistant', content: 'It is sunny.' },
    { role: 'user', content: 'And tomorrow?' },
  ];
}

function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

describe('context_trimming', () => {
  let up: MockUpstream;
  let gw: Running;
  const log = logSink();

  before(async () => {
    up = await MockUpstream.start();
    gw = await startGateway(
      `
version: 1
upstreams:
  up: { provider: openai, url: ${up.url} }
  # The same mock, spoken to in Anthropic's API: Anthropic callers' requests go to it as they are.
  claude: { provider: anthropic, url: ${up.url} }
routers:
  main:
    targets: [{ upstream: up }]
    features:
      context_trimming: { max_input_tokens: 200 }
  claude:
    targets: [{ upstream: claude }]
    features:
      context_trimming: { max_input_tokens: 200 }
  windowed:
    targets: [{ upstream: up, model: gpt-4 }]
    features:
      context_trimming: {}
`,
      { logger: log.logger },
    );
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('drops the oldest turns whole, keeps the system prompt, the tool call with its result and the last user turn', async () => {
    const messages = toolChat();
    const original = countRequestTokens('openai', { model: 'gpt-4o', messages });
    assert.ok(original > 200);
    const client = new OpenAI({ baseURL: `${gw.url}/router/main/v1`, apiKey: 'sk-x', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: messages as any }).withResponse();
    const sent = up.received.at(-1)!.json();
    assert.deepEqual(sent.messages, [messages[0], ...messages.slice(3)], 'the first user turn and its reply went');
    const kept = countRequestTokens('openai', sent);
    assert.ok(kept <= 200, `${kept} tokens`);
    assert.equal(response.headers.get('x-sidegate-trimmed-messages'), '2');
    assert.equal(response.headers.get('x-sidegate-trimmed-tokens'), String(original - kept));
    const [line] = (await log.accessLines(1)).slice(-1);
    assert.equal(line.trimmed_messages, 2);
    assert.equal(line.trimmed_tokens, original - kept);
  });

  test('a tool call never loses its result: they go together (streamed)', async () => {
    const messages = toolChat();
    messages[5] = { role: 'tool', tool_call_id: 'call_1', content: words('sunny', 70) };
    up.script(steps.sse([chunk('gpt-4o', 'ok'), chunk('gpt-4o', null, 'stop')]));
    const client = new OpenAI({ baseURL: `${gw.url}/router/main/v1`, apiKey: 'sk-x', maxRetries: 0 });
    const { data: stream, response } = await client.chat.completions.create({ model: 'gpt-4o', messages: messages as any, stream: true }).withResponse();
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    assert.equal(text, 'ok');
    const sent = up.received.at(-1)!.json();
    assert.deepEqual(sent.messages, [messages[0], messages[6], messages[7]]);
    assert.ok(countRequestTokens('openai', sent) <= 200);
    assert.equal(response.headers.get('x-sidegate-trimmed-messages'), '5');
  });

  test('Anthropic callers: tool_use and tool_result blocks go together, the first kept turn is a user turn', async () => {
    const messages = [
      { role: 'user', content: words('old', 50) },
      { role: 'assistant', content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'tu_1', name: 'weather', input: { city: 'Paris' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: words('sunny', 50) }] },
      { role: 'assistant', content: 'It is sunny.' },
      { role: 'user', content: 'And tomorrow?' },
    ];
    up.script(steps.json(200, { id: 'msg', type: 'message', role: 'assistant', content: [{ type: 'text', text: 'Rain.' }], usage: { input_tokens: 1, output_tokens: 1 } }));
    const body = { model: 'claude-haiku-4-5', max_tokens: 50, system: 'Be brief.', messages };
    const res = await post(gw.url, '/router/claude/v1/messages', body);
    assert.equal(res.status, 200);
    const sent = up.received.at(-1)!.json();
    assert.equal(sent.system, 'Be brief.');
    assert.deepEqual(sent.messages, [messages[4]], 'the tool pair went whole, and the assistant turn it left first went too');
    assert.equal(res.headers.get('x-sidegate-trimmed-messages'), '4');
  });

  test("without max_input_tokens: the target model's window minus max_tokens (gpt-4: 8192)", async () => {
    const messages = toolChat();
    const res = await post(gw.url, '/router/windowed/v1/chat/completions', { model: 'anything', messages, max_tokens: 8192 - 100 });
    assert.equal(res.status, 200);
    const sent = up.received.at(-1)!.json();
    assert.equal(sent.model, 'gpt-4');
    assert.ok(countRequestTokens('openai', sent, 'gpt-4') <= 100);
    assert.ok(Number(res.headers.get('x-sidegate-trimmed-messages')) > 0);
  });

  test('a request that cannot fit even trimmed is a 400 context_length_exceeded, in the caller\'s format', async () => {
    const calls = up.received.length;
    const res = await post(gw.url, '/router/main/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 5, messages: [{ role: 'user', content: words('huge', 200) }] });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /^The request needs about \d+ input tokens even with only the system prompt and the last user turn; the limit is 200 \(max_input_tokens\)\.$/);
    assert.equal(up.received.length, calls, 'never sent');
  });
});

describe('token_optimization', () => {
  let up: MockUpstream;
  let gw: Running;

  before(async () => {
    up = await MockUpstream.start();
    gw = await startGateway(`
version: 1
upstreams:
  up: { provider: openai, url: ${up.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      token_optimization: {}
`);
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('folds whitespace outside code, drops repeated system and empty messages, minifies JSON byte for byte; counts what it saved', async () => {
    const code = '```python\ndef f():\n    return  1   \n```';
    const messages = [
      { role: 'system', content: 'Be   brief.   ' },
      { role: 'system', content: 'Be   brief.   ' },
      { role: 'user', content: '' },
      { role: 'user', content: `Hello    world,\n\n\n\n\n  - keep   indent\n${code}\nbye  ` },
      { role: 'user', content: '{ "id": 12345678901234567890, "name": "a  b",\n  "list": [1, 2] }' },
      { role: 'user', content: 'Data:\n```json\n{ "a": [1,  2] }\n```' },
    ];
    const body = { model: 'gpt-4o', messages };
    const res = await post(gw.url, '/v1/chat/completions', body);
    assert.equal(res.status, 200);
    const sent = up.received.at(-1)!.json();
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: `Hello world,\n\n  - keep indent\n${code}\nbye` },
      { role: 'user', content: '{"id":12345678901234567890,"name":"a  b","list":[1,2]}' },
      { role: 'user', content: 'Data:\n```json\n{"a":[1,2]}\n```' },
    ]);
    assert.ok(up.received.at(-1)!.body.includes('12345678901234567890'), 'a big number is not rounded');
    const saved = countRequestTokens('openai', body) - countRequestTokens('openai', sent);
    assert.ok(saved > 0);
    assert.equal(res.headers.get('x-sidegate-tokens-saved'), String(saved));
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`ai_gateway_tokens_saved_total\\{router="main",feature="token_optimization"\\} ${saved}`));
  });

  test('a request with nothing to shrink is sent as it came (same bytes, no header)', async () => {
    const raw = JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi there' }] });
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-tokens-saved'), null);
    assert.equal(up.received.at(-1)!.body.toString(), raw);
  });
});

describe('context_compression', () => {
  let up: MockUpstream;
  let summarizer: MockUpstream;
  let gw: Running;
  const log = logSink();

  const longTurns = () =>
    Array.from({ length: 8 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: words(`t${i}w`, 40) }));
  const chatA = () => [{ role: 'system', content: 'You help.' }, ...longTurns(), { role: 'user', content: 'short one' }, { role: 'assistant', content: 'short two' }, { role: 'user', content: 'Now what?' }];

  before(async () => {
    up = await MockUpstream.start();
    summarizer = await MockUpstream.start((req, res) => steps.json(200, chatCompletion(req.json().model, 'SUMMARY: they talked.'))(req, res));
    gw = await startGateway(
      `
version: 1
upstreams:
  up: { provider: openai, url: ${up.url} }
  small: { provider: openai, url: ${summarizer.url} }
prompts:
  summary: { template: "Summarize this chat about {{topic}}.", variables: { topic: weather } }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
    features:
      context_compression: { threshold: 300, router: summarizer, prompt: summary, keep_last: 2 }
  summarizer:
    targets: [{ upstream: small, model: gpt-4o-mini }]
`,
      { logger: log.logger },
    );
  });
  after(async () => {
    await gw.close();
    await up.close();
    await summarizer.close();
  });

  test('older turns are replaced by a summary from the named router, in process; repeated turns call it once', async () => {
    const messages = chatA();
    assert.ok(countRequestTokens('openai', { model: 'gpt-4o', messages }) > 300);
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-caller', maxRetries: 0 });
    const { response } = await client.chat.completions.create({ model: 'gpt-4o', messages: messages as any }).withResponse();
    assert.equal(summarizer.received.length, 1);
    const ask = summarizer.received[0]!.json();
    assert.equal(summarizer.received[0]!.headers.authorization, 'Bearer sk-caller', "on the caller's behalf");
    assert.equal(ask.model, 'gpt-4o-mini');
    assert.equal(ask.messages[0].content, 'Summarize this chat about weather.');
    assert.ok(ask.messages[1].content.startsWith(`user: ${words('t0w', 40)}\n\nassistant: ${words('t1w', 40)}`));
    assert.ok(ask.messages[1].content.endsWith('user: short one'));
    const sent = up.received.at(-1)!.json();
    assert.deepEqual(sent.messages, [
      { role: 'system', content: 'You help.' },
      { role: 'system', content: 'Summary of the earlier conversation (9 messages):\nSUMMARY: they talked.' },
      { role: 'assistant', content: 'short two' },
      { role: 'user', content: 'Now what?' },
    ]);
    assert.equal(response.headers.get('x-sidegate-compressed-messages'), '9');

    // The same turns again (streamed this time): the cached summary, no second call.
    up.script(steps.sse([chunk('gpt-4o', 'fine'), chunk('gpt-4o', null, 'stop')]));
    const stream = await client.chat.completions.create({ model: 'gpt-4o', messages: messages as any, stream: true });
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    assert.equal(text, 'fine');
    assert.equal(summarizer.received.length, 1);
    assert.deepEqual(up.received.at(-1)!.json().messages, sent.messages);

    // The chat goes on: the summary of its first turns still serves while the rest fits.
    await client.chat.completions.create({ model: 'gpt-4o', messages: [...messages, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'and then?' }] as any });
    assert.equal(summarizer.received.length, 1);
    assert.equal(up.received.at(-1)!.json().messages[1].content, 'Summary of the earlier conversation (9 messages):\nSUMMARY: they talked.');

    const lines = await log.accessLines(4);
    assert.ok(lines.some((l) => l.router === 'summarizer' && l.status === 200), 'the summary request went through its router (access line)');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_context_summaries_total\{router="main",result="made"\} 1/);
    assert.match(metrics, /ai_gateway_context_summaries_total\{router="main",result="cached"\} 2/);
  });

  test('a failed summary leaves the request as it was', async () => {
    summarizer.script(steps.json(500, { error: { message: 'down' } }));
    const messages = [{ role: 'system', content: 'Other.' }, ...longTurns(), { role: 'user', content: 'x' }, { role: 'assistant', content: 'y' }, { role: 'user', content: 'z?' }];
    const res = await post(gw.url, '/v1/chat/completions', { model: 'gpt-4o', messages });
    assert.equal(res.status, 200);
    assert.deepEqual(up.received.at(-1)!.json().messages, messages);
    assert.equal(res.headers.get('x-sidegate-compressed-messages'), null);
  });

  test('a short chat is not compressed (and costs no count)', async () => {
    const calls = summarizer.received.length;
    const messages = [{ role: 'user', content: 'hi' }];
    await post(gw.url, '/v1/chat/completions', { model: 'gpt-4o', messages });
    assert.deepEqual(up.received.at(-1)!.json().messages, messages);
    assert.equal(summarizer.received.length, calls);
    assert.ok(countTokens('hi') < 300);
  });
});
