import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { startGateway, type Running } from '../support/gateway.js';
import { deadPort, eventually, MockUpstream, steps, type Step } from '../support/mock-upstream.js';
import { TestMcpServer, type TestTool } from '../support/mcp-server.js';
import { ConfigError, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { compileOffline } from '../../src/review/offline.js';
import { closePipeline, explainPipeline } from '../../src/pipeline/compile.js';

const STDIO_FIXTURE = fileURLToPath(new URL('../support/mcp-stdio-server.mjs', import.meta.url));

const ADD: TestTool = {
  name: 'add',
  description: 'Adds two numbers.',
  input: { a: z.number(), b: z.number() },
  run: ({ a, b }) => String(Number(a) + Number(b)),
};
const SECRET_LOOKUP: TestTool = { name: 'secret_lookup', description: 'Reads a secret.', input: {}, run: () => 'hidden' };
/** A tool of the same name on a second server: both become SERVER__add. */
const OTHER_ADD: TestTool = { name: 'add', description: 'Adds, elsewhere.', input: { a: z.number(), b: z.number() }, run: () => 'other' };

type Json = Record<string, any>;

function usage(prompt: number, completion: number) {
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** An OpenAI chat answer calling tools. */
function callsAnswer(calls: { id: string; name: string; args: Json }[], u = usage(10, 5)): Json {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1,
    model: 'gpt-4o',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: null, refusal: null, tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) },
        finish_reason: 'tool_calls',
      },
    ],
    usage: u,
  };
}

function textAnswer(text: string, u = usage(20, 7)): Json {
  return { id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'gpt-4o', choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop' }], usage: u };
}

const chunkOf = (delta: Json, finish: string | null = null): Json => ({ id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta, finish_reason: finish }] });

/** A streamed round calling `add` (its arguments split over deltas), with a usage chunk. */
function streamedCallRound(id = 'call_s1'): Step {
  return steps.sse([
    chunkOf({ role: 'assistant', content: null, tool_calls: [{ index: 0, id, type: 'function', function: { name: 'add', arguments: '' } }] }),
    chunkOf({ tool_calls: [{ index: 0, function: { arguments: '{"a":2,' } }] }),
    chunkOf({ tool_calls: [{ index: 0, function: { arguments: '"b":3}' } }] }),
    chunkOf({}, 'tool_calls'),
    { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: usage(7, 4) },
  ]);
}

function streamedTextRound(parts: string[]): Step {
  return steps.sse([
    chunkOf({ role: 'assistant', content: '' }),
    ...parts.map((p) => chunkOf({ content: p })),
    chunkOf({}, 'stop'),
    { id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [], usage: usage(9, 3) },
  ]);
}

const toolNames = (body: Json): string[] => (body.tools ?? []).map((t: Json) => t.function?.name ?? t.name);

describe('mcp_tools', () => {
  let up: MockUpstream;
  let calc: TestMcpServer;
  let other: TestMcpServer;
  let gw: Running;
  let openai: OpenAI;
  let dead: number;
  let yaml: string;

  const statsOf = async (router: string): Promise<Json> => ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as Json).routers[router].mcp_tools;

  before(async () => {
    up = await MockUpstream.start();
    calc = await TestMcpServer.start([ADD, SECRET_LOOKUP]);
    other = await TestMcpServer.start([OTHER_ADD]);
    dead = await deadPort();
    yaml = `
version: 1
logging: { level: silent }
mcp_servers:
  calc: { url: ${calc.url}, headers: { authorization: "Bearer \${MCP_TOKEN}" } }
  other: { url: ${other.url} }
  gone: { url: "http://127.0.0.1:${dead}/mcp" }
  local: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(STDIO_FIXTURE)}], env: { FIXTURE_TOKEN: "\${FIXTURE_TOKEN}" } }
upstreams:
  up: { provider: openai, url: ${up.url} }
  claude: { provider: anthropic, url: ${up.url} }
routers:
  main:
    targets: [{ upstream: up }]
    features:
      mcp_tools: { servers: [calc, gone], deny: ["secret_*"] }
  limited:
    targets: [{ upstream: up }]
    features:
      mcp_tools: { servers: [calc], max_rounds: 2, allow: [calc/add] }
  both:
    targets: [{ upstream: up }]
    features:
      mcp_tools: { servers: [calc, other] }
  stdio:
    targets: [{ upstream: up }]
    features:
      mcp_tools: { servers: [local] }
  claude:
    targets: [{ upstream: claude }]
    features:
      mcp_tools: { servers: [calc], deny: [secret_lookup] }
`;
    gw = await startGateway(yaml, { env: { MCP_TOKEN: 'mcp-secret-token', FIXTURE_TOKEN: 'fixture-secret' } });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
  });

  after(async () => {
    await gw.close();
    await Promise.all([up.close(), calc.close(), other.close()]);
  });

  test('non-streamed: the MCP tool runs and the model is asked again; usage of both rounds is summed', async () => {
    const from = up.received.length;
    const callsBefore = calc.calls.length;
    up.script(steps.json(200, callsAnswer([{ id: 'call_1', name: 'add', args: { a: 2, b: 3 } }], usage(10, 5))), steps.json(200, textAnswer('2 + 3 = 5', usage(20, 7))));
    const { data, response } = await openai.chat.completions
      .create({ model: 'main', messages: [{ role: 'user', content: 'What is 2 + 3?' }] })
      .withResponse();
    assert.equal(data.choices[0]!.message.content, '2 + 3 = 5');
    assert.equal(data.choices[0]!.finish_reason, 'stop');
    assert.deepEqual(data.usage, { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 });
    assert.equal(response.headers.get('x-sidegate-mcp-rounds'), '2');
    assert.equal(response.headers.get('x-sidegate-mcp-tools'), null);

    assert.equal(up.received.length - from, 2);
    const first = up.received[from]!.json();
    // The live server's tools are offered (secret_* denied); the dead server adds none and breaks nothing.
    assert.deepEqual(first.tools, [
      { type: 'function', function: { name: 'add', description: 'Adds two numbers.', parameters: first.tools[0].function.parameters } },
    ]);
    assert.deepEqual(first.tools[0].function.parameters.required, ['a', 'b']);
    assert.equal(first.tools[0].function.parameters.type, 'object');
    assert.equal(first.tools[0].function.parameters.$schema, undefined);
    const second = up.received[from + 1]!.json();
    assert.deepEqual(second.messages, [
      { role: 'user', content: 'What is 2 + 3?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '5' },
    ]);
    assert.deepEqual(calc.calls.slice(callsBefore), [{ name: 'add', args: { a: 2, b: 3 } }]);
    // The server's header came from the environment.
    assert.ok(calc.headers.some((h) => h.authorization === 'Bearer mcp-secret-token'));
  });

  test('streamed: only the final round reaches the client, with the usage of every round', async () => {
    const from = up.received.length;
    up.script(streamedCallRound(), streamedTextRound(['The sum ', 'is 5.']));
    const stream = await openai.chat.completions.create({
      model: 'main',
      messages: [{ role: 'user', content: 'What is 2 + 3?' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    const finishes: string[] = [];
    let sawToolCalls = false;
    let total: Json | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice?.delta.content) text += choice.delta.content;
      if (choice?.delta.tool_calls) sawToolCalls = true;
      if (choice?.finish_reason) finishes.push(choice.finish_reason);
      if (chunk.usage) total = chunk.usage;
    }
    assert.equal(text, 'The sum is 5.');
    assert.equal(sawToolCalls, false);
    assert.deepEqual(finishes, ['stop']);
    assert.deepEqual(total, { prompt_tokens: 16, completion_tokens: 7, total_tokens: 23 });
    assert.equal(up.received.length - from, 2);
    const second = up.received[from + 1]!.json();
    assert.equal(second.stream, true);
    assert.deepEqual(second.messages.slice(1), [
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_s1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }] },
      { role: 'tool', tool_call_id: 'call_s1', content: '5' },
    ]);
  });

  test('max_rounds: the last answer is returned without its MCP calls, marked', async () => {
    const from = up.received.length;
    const call = steps.json(200, callsAnswer([{ id: 'call_x', name: 'add', args: { a: 1, b: 1 } }]));
    up.script(call, call);
    const { data, response } = await openai.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'loop' }] }).withResponse();
    assert.equal(up.received.length - from, 2);
    assert.equal(response.headers.get('x-sidegate-mcp-tools'), 'max_rounds');
    assert.equal(response.headers.get('x-sidegate-mcp-rounds'), '2');
    assert.equal(data.choices[0]!.message.tool_calls, undefined);
    assert.equal(data.choices[0]!.finish_reason, 'stop');
  });

  test('max_rounds, streamed: the stream ends with a comment saying the limit was hit', async () => {
    const from = up.received.length;
    up.script(streamedCallRound('c2'), streamedCallRound('c3'));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test' },
      body: JSON.stringify({ model: 'limited', stream: true, messages: [{ role: 'user', content: 'loop' }] }),
    });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.ok(text.includes(': x-sidegate-mcp-tools: max_rounds\n\n'), text);
    assert.ok(!text.includes('tool_calls":[{'), text);
    assert.ok(text.trimEnd().endsWith('data: [DONE]'), text);
    assert.ok(text.includes('"finish_reason":"stop"'), text);
    assert.equal(up.received.length - from, 2);
  });

  test("allow and deny: only the allowed tools are offered; the caller's own tools pass through and their calls come back", async () => {
    const from = up.received.length;
    up.script(steps.json(200, callsAnswer([{ id: 'w1', name: 'get_weather', args: { city: 'Oslo' } }])));
    const weather = { type: 'function' as const, function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } };
    const data = await openai.chat.completions.create({ model: 'limited', messages: [{ role: 'user', content: 'weather?' }], tools: [weather] });
    assert.equal(up.received.length - from, 1);
    assert.deepEqual(toolNames(up.received[from]!.json()), ['get_weather', 'add']);
    assert.deepEqual(data.choices[0]!.message.tool_calls, [{ id: 'w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    assert.equal(data.choices[0]!.finish_reason, 'tool_calls');
  });

  test("an answer calling both kinds goes to the caller with only the caller's calls", async () => {
    const from = up.received.length;
    const callsBefore = calc.calls.length;
    up.script(
      steps.json(
        200,
        callsAnswer([
          { id: 'a1', name: 'add', args: { a: 1, b: 2 } },
          { id: 'w2', name: 'get_weather', args: { city: 'Rome' } },
        ]),
      ),
    );
    const weather = { type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } };
    const data = await openai.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'both' }], tools: [weather] });
    assert.equal(up.received.length - from, 1);
    assert.equal(calc.calls.length, callsBefore);
    assert.deepEqual(
      data.choices[0]!.message.tool_calls?.map((c) => c.id),
      ['w2'],
    );
  });

  test('the same tool name on two servers is offered namespaced, and each call reaches its own server', async () => {
    const from = up.received.length;
    const otherBefore = other.calls.length;
    up.script(steps.json(200, callsAnswer([{ id: 'o1', name: 'other__add', args: { a: 1, b: 1 } }])), steps.json(200, textAnswer('done')));
    const data = await openai.chat.completions.create({ model: 'both', messages: [{ role: 'user', content: 'add' }] });
    assert.equal(data.choices[0]!.message.content, 'done');
    assert.deepEqual(toolNames(up.received[from]!.json()).sort(), ['calc__add', 'other__add', 'secret_lookup']);
    assert.deepEqual(other.calls.slice(otherBefore), [{ name: 'add', args: { a: 1, b: 1 } }]);
    assert.equal(up.received[from + 1]!.json().messages.at(-1).content, 'other');
  });

  test('a tool added on the server is offered once the server says its list changed', async () => {
    calc.addTool({ name: 'multiply', description: 'Multiplies.', input: { a: z.number(), b: z.number() }, run: ({ a, b }) => String(Number(a) * Number(b)) });
    await eventually('the gateway refreshed calc', async () => ((await statsOf('main')).servers.calc.tools as string[]).includes('multiply'));
    const from = up.received.length;
    up.script(steps.json(200, textAnswer('ok')));
    await openai.chat.completions.create({ model: 'main', messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(toolNames(up.received[from]!.json()), ['add', 'multiply']);
    const stats = await statsOf('main');
    assert.equal(stats.servers.gone.state, 'down');
    assert.equal(stats.servers.calc.state, 'connected');
  });

  test('a stdio server: started with its environment, its tools called, stopped with the pipeline', async () => {
    await eventually('the stdio server connected', async () => (await statsOf('stdio')).servers.local.state === 'connected', 250, 20);
    const from = up.received.length;
    up.script(steps.json(200, callsAnswer([{ id: 's1', name: 'whoami', args: {} }, { id: 's2', name: 'echo', args: { text: 'hi' } }])), steps.json(200, textAnswer('fine')));
    const data = await openai.chat.completions.create({ model: 'stdio', messages: [{ role: 'user', content: 'who?' }] });
    assert.equal(data.choices[0]!.message.content, 'fine');
    const results = up.received[from + 1]!.json().messages.filter((m: Json) => m.role === 'tool');
    const who = JSON.parse(results[0].content);
    assert.equal(who.token, 'fixture-secret');
    assert.deepEqual(results[1], { role: 'tool', tool_call_id: 's2', content: 'echo: hi' });
    // A reload retires the pipeline: its stdio server's process ends with it.
    process.kill(who.pid, 0);
    await gw.gateway.reload({ yaml: `${yaml}# reloaded\n` });
    await eventually('the old stdio server exited', () => {
      try {
        process.kill(who.pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 250, 20);
  });

  test('Anthropic callers: tools as input_schema, tool_use answered with tool_result, streamed final answer', async () => {
    const from = up.received.length;
    const message = (content: Json[], stop: string, u: Json) => ({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-sonnet-4-5', content, stop_reason: stop, stop_sequence: null, usage: u });
    up.script(
      steps.json(200, message([{ type: 'text', text: 'Let me add.' }, { type: 'tool_use', id: 'tu_1', name: 'add', input: { a: 4, b: 5 } }], 'tool_use', { input_tokens: 12, output_tokens: 6 })),
      steps.json(200, message([{ type: 'text', text: 'It is 9.' }], 'end_turn', { input_tokens: 30, output_tokens: 4 })),
    );
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant', maxRetries: 0 });
    const answer = await anthropic.messages.create({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: '4 + 5?' }] });
    assert.deepEqual(answer.content, [{ type: 'text', text: 'It is 9.' }]);
    assert.equal(answer.usage.input_tokens, 42);
    assert.equal(answer.usage.output_tokens, 10);
    const first = up.received[from]!.json();
    assert.deepEqual(first.tools.map((t: Json) => Object.keys(t).sort()), [['description', 'input_schema', 'name'], ['description', 'input_schema', 'name']]);
    assert.deepEqual(toolNames(first), ['add', 'multiply']);
    const second = up.received[from + 1]!.json();
    assert.deepEqual(second.messages.slice(1), [
      { role: 'assistant', content: [{ type: 'text', text: 'Let me add.' }, { type: 'tool_use', id: 'tu_1', name: 'add', input: { a: 4, b: 5 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tu_1', content: '9' }] },
    ]);

    // Streamed: the preamble text flows, the tool_use block never reaches the client, block indexes are renumbered.
    const sse = (events: [string, Json][]): Step => async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const [name, data] of events) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      res.end();
    };
    const start = (id: string, input: number): [string, Json] => ['message_start', { type: 'message_start', message: { ...message([], null as never, { input_tokens: input, output_tokens: 1 }), id } }];
    up.script(
      sse([
        start('msg_a', 12),
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me add. ' } }],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ['content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'tu_2', name: 'add', input: {} } }],
        ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":1,' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"b":1}' } }],
        ['content_block_stop', { type: 'content_block_stop', index: 1 }],
        ['message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 8 } }],
        ['message_stop', { type: 'message_stop' }],
      ]),
      sse([
        start('msg_b', 40),
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'It is 2.' } }],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }],
        ['message_stop', { type: 'message_stop' }],
      ]),
    );
    const stream = anthropic.messages.stream({ model: 'claude', max_tokens: 100, messages: [{ role: 'user', content: '1 + 1?' }] });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    assert.deepEqual(final.content, [
      { type: 'text', text: 'Let me add. ', citations: null },
      { type: 'text', text: 'It is 2.', citations: null },
    ].map((b) => (Object.hasOwn(final.content[0]!, 'citations') ? b : { type: b.type, text: b.text })));
    assert.equal(final.id, 'msg_a');
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, 11);
    assert.equal(types.filter((t) => t === 'message_start').length, 1);
    assert.equal(types.filter((t) => t === 'message_stop').length, 1);
  });

  test('/config redacts the servers\' headers and env values', async () => {
    const text = await (await fetch(`${gw.adminUrl}/config`)).text();
    assert.ok(!text.includes('mcp-secret-token'), text);
    assert.ok(!text.includes('fixture-secret'), text);
    const config = JSON.parse(text);
    const servers = (config.config ?? config).mcp_servers;
    assert.equal(servers.calc.headers.authorization, '[redacted]');
    assert.equal(servers.local.env.FIXTURE_TOKEN, '[redacted]');
  });
});

describe('mcp_tools config', () => {
  test('an unknown server is reported at its line and column, with a suggestion', () => {
    const text = [
      'version: 1',
      'mcp_servers:',
      '  calc: { url: http://127.0.0.1:1/mcp }',
      'upstreams:',
      '  up: { provider: openai }',
      'routers:',
      '  main:',
      '    targets: [{ upstream: up }]',
      '    features:',
      '      mcp_tools: { servers: [calc, clac] }',
      '',
    ].join('\n');
    assert.throws(
      () => loadConfigText(text, 'gateway.yaml', { OPENAI_API_KEY: 'x' }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /routers\.main\.features\.mcp_tools\.servers\[1\]: unknown MCP server "clac" \(gateway\.yaml:10:36\), did you mean "calc"\?/);
        return true;
      },
    );
  });

  test('a server is either url or command', () => {
    const text = ['version: 1', 'mcp_servers:', '  x: { url: http://a/mcp, command: ls }', 'upstreams:', '  up: { provider: openai }', 'routers:', '  main: { targets: [{ upstream: up }] }', ''].join('\n');
    assert.throws(() => loadConfigText(text, 'gateway.yaml', { OPENAI_API_KEY: 'x' }), ConfigError);
  });
});

describe('mcp_tools example', () => {
  test('examples/mcp-tools.yaml compiles offline, and explain shows the tool loop in its place', async () => {
    const pipeline = await compileOffline(loadConfigFile('examples/mcp-tools.yaml', { MCP_TOKEN: 'sk-example', OPENAI_API_KEY: 'sk-example' }));
    try {
      const text = explainPipeline(pipeline);
      assert.match(text, / 680 {2}feature mcp_tools: offers the tools of MCP servers search \(deny search\/admin_\*\) and runs the model's calls to them, up to 4 model calls per request/);
      assert.ok(!text.includes('sk-example'));
      const stats = pipeline.routers.get('assistant')!.stages.find((s) => s.name === 'mcp_tools')!.stats!() as Json;
      assert.equal(stats.servers.search.state, 'closed', 'an offline compile never connects');
    } finally {
      await closePipeline(pipeline);
    }
  });
});
