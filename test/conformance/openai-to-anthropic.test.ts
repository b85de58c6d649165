/**
 * OpenAI in, Anthropic out: the official `openai` SDK calls the gateway, whose target is an
 * `anthropic` upstream (a scripted mock speaking the Messages API). Each case states the
 * request, the Messages request the upstream must receive, the upstream's answer, and what
 * the client must see: once as JSON, once streamed (the same answer in Anthropic's events).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { anthropicMessage, answer } from './transcripts.js';

type Json = Record<string, any>;

interface Case {
  name: string;
  request: Json;
  /** The Messages request body the upstream receives (less `stream`). */
  sent: Json;
  /** The upstream's answer (Anthropic message). */
  upstream: Json;
  /** What the client sees: choices[0].message, finish_reason, usage. */
  message: Json;
  finish: string;
  usage: Json;
}

const MODEL = 'claude-sonnet-4-5';
const usage = (prompt: number, completion: number, cached = 0, written = 0) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: cached, cache_creation_tokens: written },
});
const weatherTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'Get the current weather in a given location', parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } },
};
const weatherToolAnthropic = { name: 'get_weather', description: 'Get the current weather in a given location', input_schema: weatherTool.function.parameters };

const CASES: Case[] = [
  {
    name: 'text',
    request: { model: MODEL, messages: [{ role: 'user', content: 'Hello, Claude' }] },
    sent: { model: MODEL, max_tokens: 64000, messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello, Claude' }] }] },
    upstream: anthropicMessage([{ type: 'text', text: 'Hi! My name is Claude.' }], 'end_turn', { input_tokens: 10, output_tokens: 8 }),
    message: { role: 'assistant', content: 'Hi! My name is Claude.', refusal: null },
    finish: 'stop',
    usage: usage(10, 8),
  },
  {
    name: 'system, developer and multi-turn, with sampling options',
    request: {
      model: MODEL,
      max_tokens: 512,
      temperature: 1.5,
      top_p: 0.9,
      user: 'user-42',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in English.' }] },
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: 'Hi, I\'m Claude. How can I help you?' },
        { role: 'user', content: 'Can you explain LLMs in plain English?' },
      ],
    },
    sent: {
      model: MODEL,
      max_tokens: 512,
      system: 'You are terse.\n\nAnswer in English.',
      temperature: 1,
      top_p: 0.9,
      metadata: { user_id: 'user-42' },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hello there.' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Hi, I\'m Claude. How can I help you?' }] },
        { role: 'user', content: [{ type: 'text', text: 'Can you explain LLMs in plain English?' }] },
      ],
    },
    upstream: anthropicMessage([{ type: 'text', text: 'Models that predict text.' }], 'end_turn', { input_tokens: 40, output_tokens: 5 }),
    message: { role: 'assistant', content: 'Models that predict text.', refusal: null },
    finish: 'stop',
    usage: usage(40, 5),
  },
  {
    name: 'images: base64 and URL',
    request: {
      model: MODEL,
      messages: [{
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg' } },
          { type: 'text', text: 'What is in these images?' },
        ],
      }],
    },
    sent: {
      model: MODEL,
      max_tokens: 64000,
      messages: [{
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg' } },
          { type: 'text', text: 'What is in these images?' },
        ],
      }],
    },
    upstream: anthropicMessage([{ type: 'text', text: 'A pixel and an ant.' }], 'end_turn', { input_tokens: 1600, output_tokens: 7 }),
    message: { role: 'assistant', content: 'A pixel and an ant.', refusal: null },
    finish: 'stop',
    usage: usage(1600, 7),
  },
  {
    name: 'one tool call, first turn',
    request: { model: MODEL, tools: [weatherTool], tool_choice: 'required', messages: [{ role: 'user', content: 'What is the weather like in San Francisco?' }] },
    sent: {
      model: MODEL,
      max_tokens: 64000,
      tools: [weatherToolAnthropic],
      tool_choice: { type: 'any' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is the weather like in San Francisco?' }] }],
    },
    upstream: anthropicMessage(
      [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_01A09q90qw90lq917835lq9', name: 'get_weather', input: { location: 'San Francisco, CA' } }],
      'tool_use',
      { input_tokens: 384, output_tokens: 60 },
    ),
    message: {
      role: 'assistant',
      content: 'Let me check.',
      refusal: null,
      tool_calls: [{ id: 'toolu_01A09q90qw90lq917835lq9', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA"}' } }],
    },
    finish: 'tool_calls',
    usage: usage(384, 60),
  },
  {
    name: 'parallel tool calls, then their results (second turn)',
    request: {
      model: MODEL,
      tools: [weatherTool],
      parallel_tool_calls: false,
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'toolu_paris', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
            { id: 'toolu_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_paris', content: '18C, cloudy' },
        { role: 'tool', tool_call_id: 'toolu_tokyo', content: [{ type: 'text', text: '25C, sunny' }] },
      ],
    },
    sent: {
      model: MODEL,
      max_tokens: 64000,
      tools: [weatherToolAnthropic],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tokyo?' }] },
        {
          role: 'assistant',
          content: [
            { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { location: 'Paris' } },
            { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { location: 'Tokyo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_paris', content: '18C, cloudy' },
            { type: 'tool_result', tool_use_id: 'toolu_tokyo', content: [{ type: 'text', text: '25C, sunny' }] },
          ],
        },
      ],
    },
    upstream: anthropicMessage([{ type: 'text', text: 'Paris 18C, Tokyo 25C.' }], 'end_turn', { input_tokens: 500, output_tokens: 9 }),
    message: { role: 'assistant', content: 'Paris 18C, Tokyo 25C.', refusal: null },
    finish: 'stop',
    usage: usage(500, 9),
  },
  {
    name: 'parallel tool calls in one answer',
    request: { model: MODEL, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }] },
    sent: { model: MODEL, max_tokens: 64000, tools: [weatherToolAnthropic], messages: [{ role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Tokyo?' }] }] },
    upstream: anthropicMessage(
      [
        { type: 'tool_use', id: 'toolu_paris', name: 'get_weather', input: { location: 'Paris' } },
        { type: 'tool_use', id: 'toolu_tokyo', name: 'get_weather', input: { location: 'Tokyo' } },
      ],
      'tool_use',
      { input_tokens: 300, output_tokens: 80 },
    ),
    message: {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [
        { id: 'toolu_paris', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
        { id: 'toolu_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' } },
      ],
    },
    finish: 'tool_calls',
    usage: usage(300, 80),
  },
  {
    name: 'JSON schema output',
    request: {
      model: MODEL,
      messages: [{ role: 'user', content: 'Extract: Ann is 31.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] } } },
    },
    sent: {
      model: MODEL,
      max_tokens: 64000,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Extract: Ann is 31.' }] }],
      tools: [{ name: 'person', description: 'Answer with JSON matching this schema.', input_schema: { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'] } }],
      tool_choice: { type: 'tool', name: 'person' },
    },
    upstream: anthropicMessage([{ type: 'tool_use', id: 'toolu_json', name: 'person', input: { name: 'Ann', age: 31 } }], 'tool_use', { input_tokens: 90, output_tokens: 20 }),
    message: { role: 'assistant', content: '{"name":"Ann","age":31}', refusal: null },
    finish: 'stop',
    usage: usage(90, 20),
  },
  {
    name: 'stop sequences',
    request: { model: MODEL, stop: ['END', 'STOP'], messages: [{ role: 'user', content: 'Count to five then say END.' }] },
    sent: { model: MODEL, max_tokens: 64000, stop_sequences: ['END', 'STOP'], messages: [{ role: 'user', content: [{ type: 'text', text: 'Count to five then say END.' }] }] },
    upstream: anthropicMessage([{ type: 'text', text: '1 2 3 4 5 ' }], 'stop_sequence', { input_tokens: 15, output_tokens: 10 }),
    message: { role: 'assistant', content: '1 2 3 4 5 ', refusal: null },
    finish: 'stop',
    usage: usage(15, 10),
  },
  {
    name: 'max-tokens stop (max_completion_tokens)',
    request: { model: MODEL, max_completion_tokens: 5, messages: [{ role: 'user', content: 'Write an essay.' }] },
    sent: { model: MODEL, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'Write an essay.' }] }] },
    upstream: anthropicMessage([{ type: 'text', text: 'Once upon a time' }], 'max_tokens', { input_tokens: 11, output_tokens: 5 }),
    message: { role: 'assistant', content: 'Once upon a time', refusal: null },
    finish: 'length',
    usage: usage(11, 5),
  },
  {
    name: 'usage with cache reads and writes; thinking blocks left out',
    request: { model: MODEL, messages: [{ role: 'system', content: 'A long, cached system prompt.' }, { role: 'user', content: 'Hi' }] },
    sent: { model: MODEL, max_tokens: 64000, system: 'A long, cached system prompt.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }] },
    upstream: anthropicMessage(
      [{ type: 'thinking', thinking: 'The user greets me.', signature: 'EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds' }, { type: 'text', text: 'Hello!' }],
      'end_turn',
      { input_tokens: 4, output_tokens: 3, cache_creation_input_tokens: 2000, cache_read_input_tokens: 1500 },
    ),
    message: { role: 'assistant', content: 'Hello!', refusal: null },
    finish: 'stop',
    usage: usage(3504, 3, 1500, 2000),
  },
];

/** A stream's chunks folded into one message, as an app would (content, tool calls by index). */
async function fold(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>): Promise<{ message: Json; finish: string | null; usage: Json | null; ids: Set<string> }> {
  let content: string | null = null;
  const calls: Json[] = [];
  let finish: string | null = null;
  let usage: Json | null = null;
  const ids = new Set<string>();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices[0];
    if (!choice) continue;
    if (choice.finish_reason) finish = choice.finish_reason;
    if (typeof choice.delta.content === 'string' && choice.delta.content !== '') content = (content ?? '') + choice.delta.content;
    for (const call of choice.delta.tool_calls ?? []) {
      const slot = (calls[call.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
      if (call.id) slot.id = call.id;
      if (call.function?.name) slot.function.name = call.function.name;
      if (call.function?.arguments) slot.function.arguments += call.function.arguments;
    }
  }
  const message: Json = { role: 'assistant', content, refusal: null };
  if (calls.length) message.tool_calls = calls;
  return { message, finish, usage, ids };
}

describe('conformance: the openai SDK through an anthropic upstream', () => {
  let upstream: MockUpstream;
  let gw: Running;
  let client: OpenAI;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  claude: { provider: anthropic, url: ${upstream.url}, auth: { header: x-api-key, value: sk-ant-gateway } }
default_router: main
routers:
  main: { targets: [{ upstream: claude }] }
`);
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-openai-caller', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const c of CASES) {
    test(`${c.name}: JSON`, async () => {
      upstream.script(answer('anthropic', c.upstream, { 'request-id': 'req_018EeWyXxfu5pfWkrYcMdjWG' }));
      const { data, response } = await client.chat.completions.create(c.request as any).withResponse();
      const received = upstream.received.at(-1)!;
      assert.equal(received.url, '/v1/messages');
      assert.deepEqual(received.json(), c.sent);
      assert.equal(received.headers['x-api-key'], 'sk-ant-gateway');
      assert.equal(received.headers['anthropic-version'], '2023-06-01');
      assert.equal(received.headers.authorization, undefined, "the caller's OpenAI key never reaches Anthropic");
      assert.equal(response.headers.get('x-sidegate-target'), 'claude');
      assert.equal(data.object, 'chat.completion');
      assert.equal(data.id, 'msg_01XFDUDYJgAACzvnptvVoYEL');
      assert.equal(data.model, 'claude-sonnet-4-5-20250929');
      assert.equal(data.choices.length, 1);
      assert.deepEqual(data.choices[0]!.message, c.message);
      assert.equal(data.choices[0]!.finish_reason, c.finish);
      assert.deepEqual(data.usage, c.usage);
    });

    test(`${c.name}: streamed, with include_usage`, async () => {
      upstream.script(answer('anthropic', c.upstream));
      const stream = await client.chat.completions.create({ ...(c.request as any), stream: true, stream_options: { include_usage: true } });
      const folded = await fold(stream as any);
      assert.deepEqual(upstream.received.at(-1)!.json(), { ...c.sent, stream: true });
      assert.deepEqual(folded.message, c.message);
      assert.equal(folded.finish, c.finish);
      assert.deepEqual(folded.usage, c.usage);
      assert.deepEqual([...folded.ids], ['msg_01XFDUDYJgAACzvnptvVoYEL'], 'every chunk carries the one id');
    });
  }

  test('a stream without include_usage has no usage chunk', async () => {
    upstream.script(answer('anthropic', CASES[0]!.upstream));
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'Hello, Claude' }], stream: true });
    const folded = await fold(stream);
    assert.equal(folded.usage, null);
    assert.equal(folded.message.content, 'Hi! My name is Claude.');
  });

  test('n > 1 and fields without an Anthropic equivalent are refused with a 400 naming them', async () => {
    const before = upstream.received.length;
    for (const [field, value] of [['n', 2], ['logprobs', true], ['audio', { voice: 'alloy', format: 'wav' }]] as const) {
      const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], [field]: value } as any).catch((e) => e);
      assert.ok(err instanceof OpenAI.BadRequestError, `${field}: ${err}`);
      assert.equal(err.status, 400);
      assert.equal((err.error as Json).param, field);
      assert.equal((err.error as Json).code, 'invalid_request');
      assert.match(err.message, new RegExp(`\`${field}\``));
    }
    assert.equal(upstream.received.length, before, 'nothing was sent upstream');
  });

  test('an endpoint with no Anthropic equivalent is refused clearly', async () => {
    const err = await client.embeddings.create({ model: MODEL, input: 'x' }).catch((e) => e);
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.match(err.message, /Upstream "claude" speaks Anthropic's Messages API; POST \/v1\/embeddings has no equivalent there/);
  });
});
