/**
 * Anthropic in, OpenAI out: the official `@anthropic-ai/sdk` calls the gateway's
 * /v1/messages, whose target is an OpenAI upstream (a scripted mock speaking Chat
 * Completions). Each case states the request, the chat request the upstream must receive,
 * the upstream's answer and the message the client must see, as JSON and streamed (the
 * SDK's own stream accumulator reads Anthropic's event grammar).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { answer, openaiCompletion } from './transcripts.js';

type Json = Record<string, any>;

interface Case {
  name: string;
  request: Json;
  /** The chat request body the upstream receives (less `stream` and `stream_options`). */
  sent: Json;
  upstream: Json;
  /** The message's content, stop reason and usage as the client sees them. */
  content: Json[];
  stop: string;
  usage: Json;
}

const MODEL = 'gpt-4o';
const usage = (input: number, output: number, read = 0) => ({ input_tokens: input, output_tokens: output, cache_creation_input_tokens: 0, cache_read_input_tokens: read });
const weather = { name: 'get_weather', description: 'Get the current weather in a given location', input_schema: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] } };
const weatherOpenAI = { type: 'function', function: { name: 'get_weather', parameters: weather.input_schema, description: weather.description } };

const CASES: Case[] = [
  {
    name: 'text',
    request: { model: MODEL, max_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] },
    sent: { model: MODEL, max_completion_tokens: 1024, messages: [{ role: 'user', content: 'Hello' }] },
    upstream: openaiCompletion({ content: 'Hello there, how may I assist you today?' }, 'stop', { prompt_tokens: 9, completion_tokens: 12, total_tokens: 21 }),
    content: [{ type: 'text', text: 'Hello there, how may I assist you today?' }],
    stop: 'end_turn',
    usage: usage(9, 12),
  },
  {
    name: 'system and multi-turn, with sampling options',
    request: {
      model: MODEL,
      max_tokens: 256,
      system: [{ type: 'text', text: 'You are terse.' }],
      temperature: 0.2,
      top_p: 0.8,
      top_k: 40,
      metadata: { user_id: 'user-7' },
      messages: [
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: [{ type: 'text', text: 'Hi. How can I help?' }] },
        { role: 'user', content: [{ type: 'text', text: 'Explain LLMs.' }] },
      ],
    },
    sent: {
      model: MODEL,
      max_completion_tokens: 256,
      temperature: 0.2,
      top_p: 0.8,
      user: 'user-7',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello there.' },
        { role: 'assistant', content: 'Hi. How can I help?' },
        { role: 'user', content: 'Explain LLMs.' },
      ],
    },
    upstream: openaiCompletion({ content: 'They predict text.' }, 'stop', { prompt_tokens: 30, completion_tokens: 4, total_tokens: 34 }),
    content: [{ type: 'text', text: 'They predict text.' }],
    stop: 'end_turn',
    usage: usage(30, 4),
  },
  {
    name: 'images: base64 and URL',
    request: {
      model: MODEL,
      max_tokens: 100,
      messages: [{
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQSkZJRg==' } },
          { type: 'image', source: { type: 'url', url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg' } },
          { type: 'text', text: 'Describe these images.' },
        ],
      }],
    },
    sent: {
      model: MODEL,
      max_completion_tokens: 100,
      messages: [{
        role: 'user',
        content: [
          { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,/9j/4AAQSkZJRg==' } },
          { type: 'image_url', image_url: { url: 'https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg' } },
          { type: 'text', text: 'Describe these images.' },
        ],
      }],
    },
    upstream: openaiCompletion({ content: 'A photo and an ant.' }, 'stop', { prompt_tokens: 800, completion_tokens: 6, total_tokens: 806 }),
    content: [{ type: 'text', text: 'A photo and an ant.' }],
    stop: 'end_turn',
    usage: usage(800, 6),
  },
  {
    name: 'one tool call, first turn',
    request: { model: MODEL, max_tokens: 1024, tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' }, messages: [{ role: 'user', content: 'Weather in San Francisco?' }] },
    sent: {
      model: MODEL,
      max_completion_tokens: 1024,
      tools: [weatherOpenAI],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      messages: [{ role: 'user', content: 'Weather in San Francisco?' }],
    },
    upstream: openaiCompletion(
      { content: null, tool_calls: [{ id: 'call_abc123', type: 'function', function: { name: 'get_weather', arguments: '{"location":"San Francisco, CA"}' } }] },
      'tool_calls',
      { prompt_tokens: 82, completion_tokens: 17, total_tokens: 99 },
    ),
    content: [{ type: 'tool_use', id: 'call_abc123', name: 'get_weather', input: { location: 'San Francisco, CA' } }],
    stop: 'tool_use',
    usage: usage(82, 17),
  },
  {
    name: 'parallel tool calls in one answer',
    request: { model: MODEL, max_tokens: 1024, tools: [weather], messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }] },
    sent: { model: MODEL, max_completion_tokens: 1024, tools: [weatherOpenAI], messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }] },
    upstream: openaiCompletion(
      {
        content: 'Checking both.',
        tool_calls: [
          { id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
          { id: 'call_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' } },
        ],
      },
      'tool_calls',
      { prompt_tokens: 90, completion_tokens: 40, total_tokens: 130 },
    ),
    content: [
      { type: 'text', text: 'Checking both.' },
      { type: 'tool_use', id: 'call_paris', name: 'get_weather', input: { location: 'Paris' } },
      { type: 'tool_use', id: 'call_tokyo', name: 'get_weather', input: { location: 'Tokyo' } },
    ],
    stop: 'tool_use',
    usage: usage(90, 40),
  },
  {
    name: 'parallel tool results, second turn',
    request: {
      model: MODEL,
      max_tokens: 1024,
      tools: [weather],
      tool_choice: { type: 'auto', disable_parallel_tool_use: true },
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'Two cities.', signature: 'sig' },
            { type: 'tool_use', id: 'call_paris', name: 'get_weather', input: { location: 'Paris' } },
            { type: 'tool_use', id: 'call_tokyo', name: 'get_weather', input: { location: 'Tokyo' } },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'call_paris', content: '18C, cloudy' },
            { type: 'tool_result', tool_use_id: 'call_tokyo', content: [{ type: 'text', text: 'unavailable' }], is_error: true },
            { type: 'text', text: 'Summarize.' },
          ],
        },
      ],
    },
    sent: {
      model: MODEL,
      max_completion_tokens: 1024,
      tools: [weatherOpenAI],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      messages: [
        { role: 'user', content: 'Weather in Paris and Tokyo?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_paris', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Paris"}' } },
            { id: 'call_tokyo', type: 'function', function: { name: 'get_weather', arguments: '{"location":"Tokyo"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_paris', content: '18C, cloudy' },
        { role: 'tool', tool_call_id: 'call_tokyo', content: 'Error: unavailable' },
        { role: 'user', content: 'Summarize.' },
      ],
    },
    upstream: openaiCompletion({ content: 'Paris is 18C; Tokyo is unknown.' }, 'stop', { prompt_tokens: 150, completion_tokens: 9, total_tokens: 159 }),
    content: [{ type: 'text', text: 'Paris is 18C; Tokyo is unknown.' }],
    stop: 'end_turn',
    usage: usage(150, 9),
  },
  {
    name: 'stop sequences',
    request: { model: MODEL, max_tokens: 100, stop_sequences: ['END'], messages: [{ role: 'user', content: 'Count then END.' }] },
    sent: { model: MODEL, max_completion_tokens: 100, stop: ['END'], messages: [{ role: 'user', content: 'Count then END.' }] },
    upstream: openaiCompletion({ content: '1 2 3' }, 'stop', { prompt_tokens: 8, completion_tokens: 5, total_tokens: 13 }),
    content: [{ type: 'text', text: '1 2 3' }],
    stop: 'end_turn',
    usage: usage(8, 5),
  },
  {
    name: 'output_format as response_format',
    request: {
      model: MODEL,
      max_tokens: 50,
      output_format: { type: 'json_schema', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
      messages: [{ role: 'user', content: 'Where is the Louvre? JSON.' }],
    },
    sent: {
      model: MODEL,
      messages: [{ role: 'user', content: 'Where is the Louvre? JSON.' }],
      max_completion_tokens: 50,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'output', schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false } },
      },
    },
    upstream: openaiCompletion({ content: '{"city":"Paris"}' }, 'stop', { prompt_tokens: 14, completion_tokens: 6, total_tokens: 20 }),
    content: [{ type: 'text', text: '{"city":"Paris"}' }],
    stop: 'end_turn',
    usage: usage(14, 6),
  },
  {
    name: 'max-tokens stop',
    request: { model: MODEL, max_tokens: 3, messages: [{ role: 'user', content: 'Write an essay.' }] },
    sent: { model: MODEL, max_completion_tokens: 3, messages: [{ role: 'user', content: 'Write an essay.' }] },
    upstream: openaiCompletion({ content: 'Once upon a' }, 'length', { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 }),
    content: [{ type: 'text', text: 'Once upon a' }],
    stop: 'max_tokens',
    usage: usage(10, 3),
  },
  {
    name: 'usage with cached tokens; reasoning as a thinking block',
    request: { model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] },
    sent: { model: MODEL, max_completion_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] },
    upstream: openaiCompletion(
      { content: 'Hello!', reasoning_content: 'A greeting.' },
      'stop',
      { prompt_tokens: 2006, completion_tokens: 300, total_tokens: 2306, prompt_tokens_details: { cached_tokens: 1920 }, completion_tokens_details: { reasoning_tokens: 256 } },
    ),
    content: [{ type: 'thinking', thinking: 'A greeting.', signature: '' }, { type: 'text', text: 'Hello!' }],
    stop: 'end_turn',
    usage: usage(86, 300, 1920),
  },
];

describe('conformance: the @anthropic-ai/sdk through an OpenAI upstream', () => {
  let upstream: MockUpstream;
  let gw: Running;
  let client: Anthropic;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  gpt: { provider: openai, url: ${upstream.url}, auth: { bearer: sk-openai-gateway } }
default_router: main
routers:
  main: { targets: [{ upstream: gpt }] }
`);
    client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-caller', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const c of CASES) {
    test(`${c.name}: JSON`, async () => {
      upstream.script(answer('openai', c.upstream, { 'x-request-id': 'req_7b1a' }));
      const { data, response } = await client.messages.create(c.request as any).withResponse();
      const received = upstream.received.at(-1)!;
      assert.equal(received.url, '/v1/chat/completions');
      assert.deepEqual(received.json(), c.sent);
      assert.equal(received.headers.authorization, 'Bearer sk-openai-gateway');
      assert.equal(received.headers['x-api-key'], undefined, "the caller's Anthropic key never reaches OpenAI");
      assert.equal(received.headers['anthropic-version'], undefined, 'Anthropic headers stay on the Anthropic side');
      assert.equal(response.headers.get('x-sidegate-target'), 'gpt');
      assert.equal(data.type, 'message');
      assert.equal(data.role, 'assistant');
      assert.equal(data.id, 'msg_chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG');
      assert.equal(data.model, 'gpt-4o-2024-08-06');
      assert.deepEqual(data.content, c.content);
      assert.equal(data.stop_reason, c.stop);
      assert.equal(data.stop_sequence, null);
      assert.deepEqual(data.usage, c.usage);
    });

    test(`${c.name}: streamed`, async () => {
      upstream.script(answer('openai', c.upstream));
      const stream = client.messages.stream(c.request as any);
      const types: string[] = [];
      stream.on('streamEvent', (event) => types.push(event.type));
      const message = await stream.finalMessage();
      assert.deepEqual(upstream.received.at(-1)!.json(), { ...c.sent, stream: true, stream_options: { include_usage: true } });
      assert.deepEqual(message.content, c.content);
      assert.equal(message.stop_reason, c.stop);
      assert.deepEqual(message.usage, { ...c.usage });
      assert.equal(types[0], 'message_start');
      assert.deepEqual(types.slice(-2), ['message_delta', 'message_stop']);
      const starts = types.filter((t) => t === 'content_block_start').length;
      assert.equal(starts, c.content.length, 'one block per content item');
      assert.equal(types.filter((t) => t === 'content_block_stop').length, starts);
    });
  }

  test('the raw stream follows Anthropic\'s event grammar, event names and ping included', async () => {
    upstream.script(answer('openai', CASES[0]!.upstream));
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'sk-ant-caller', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ ...CASES[0]!.request, stream: true }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await res.text();
    const names = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => {
      assert.equal(JSON.parse(m[2]!).type, m[1], 'each data names its event');
      return m[1];
    });
    assert.deepEqual(names, ['message_start', 'ping', 'content_block_start', 'content_block_delta', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
  });

  test('count_tokens is answered by the gateway for an OpenAI upstream', async () => {
    const before = upstream.received.length;
    const counted = await client.messages.countTokens({ model: MODEL, system: 'You are terse.', messages: [{ role: 'user', content: 'Hello, world' }] });
    assert.equal(upstream.received.length, before, 'OpenAI has no counting endpoint: nothing was sent');
    assert.ok(counted.input_tokens > 5 && counted.input_tokens < 30, `a plausible count: ${counted.input_tokens}`);
  });

  test('server tools are refused with a 400 in Anthropic\'s format, naming the field', async () => {
    const err = await client.messages
      .create({ model: MODEL, max_tokens: 10, tools: [{ type: 'web_search_20250305', name: 'web_search' } as any], messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    assert.ok(err instanceof Anthropic.BadRequestError, String(err));
    assert.equal(err.status, 400);
    assert.equal((err.error as Json).type, 'error');
    assert.equal((err.error as Json).error.type, 'invalid_request_error');
    assert.match((err.error as Json).error.message, /server tools run at Anthropic/);
  });
});
