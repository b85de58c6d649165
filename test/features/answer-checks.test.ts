import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chatCompletion, chunk, MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { logSink } from '../support/log-sink.js';

const PERSON = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
  additionalProperties: false,
};
const RESPONSE_FORMAT = { type: 'json_schema', json_schema: { name: 'person', schema: PERSON, strict: true } } as const;
const ASK = [{ role: 'user' as const, content: 'Who wrote the first program?' }];

function answer(content: string) {
  return steps.json(200, chatCompletion('gpt-4o-mini', content));
}

function sse(...contents: string[]) {
  return steps.sse([...contents.map((c) => chunk('gpt-4o-mini', c)), chunk('gpt-4o-mini', null, 'stop')]);
}

function yaml(up: MockUpstream, features: string, spare?: MockUpstream): string {
  return `
version: 1
upstreams:
  up: { provider: openai, url: ${up.url} }
  # The same mock, spoken to in Anthropic's API: Anthropic callers' requests go to it as they are.
  claude: { provider: anthropic, url: ${up.url} }
${spare ? `  spare: { provider: openai, url: ${spare.url} }\n` : ''}default_router: main
routers:
  main:
    targets: [{ upstream: up }${spare ? ', { upstream: spare }' : ''}]
    features:
${features}
  claude:
    targets: [{ upstream: claude }]
    features:
${features}
`;
}

describe('structured_output', () => {
  let up: MockUpstream;
  let gw: Running;
  let client: OpenAI;
  const log = logSink();

  before(async () => {
    up = await MockUpstream.start();
    gw = await startGateway(yaml(up, '      structured_output: {}'), { logger: log.logger });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('an invalid JSON answer is tried again with the errors appended, into a valid one', async () => {
    const first = up.received.length;
    up.script(answer('Ada Lovelace, aged 36'), answer('{"name":"Ada Lovelace","age":36}'));
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK, response_format: RESPONSE_FORMAT }).withResponse();
    assert.equal(data.choices[0]!.message.content, '{"name":"Ada Lovelace","age":36}');
    assert.equal(response.headers.get('x-sidegate-structured-output'), 'valid');
    assert.equal(up.received.length, first + 2);
    const repair = up.received[first + 1]!.json();
    assert.deepEqual(repair.messages.slice(0, 1), ASK);
    assert.deepEqual(repair.messages[1], { role: 'assistant', content: 'Ada Lovelace, aged 36' });
    assert.equal(repair.messages[2].role, 'user');
    assert.match(repair.messages[2].content, /^Your previous answer did not match the required JSON schema:\n- the answer is not valid JSON \(it starts with "A", which no JSON value does\)\nAnswer again with only the corrected JSON\.$/);
    const [line] = (await log.accessLines(1)).slice(-1);
    assert.deepEqual(line.structured_output, { result: 'valid', tries: 2 });
  });

  test('an answer that never matches the schema is a 422 listing the errors', async () => {
    const first = up.received.length;
    up.script(answer('{"name":"Ada"}'), answer('{"name":"Ada","age":"thirty-six","born":1815}'));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: ASK, response_format: RESPONSE_FORMAT }),
    });
    assert.equal(res.status, 422);
    assert.deepEqual(await res.json(), {
      error: {
        message: 'The answer did not match the JSON schema after 2 tries: (root) must NOT have additional properties (born); /age must be integer.',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_structured_output',
      },
    });
    assert.equal(up.received.length, first + 2);
    assert.match(up.received[first + 1]!.json().messages[2].content, /- \(root\) must have required property 'age'/);
  });

  test('a request that asks for no JSON is not checked', async () => {
    up.script(answer('plain words'));
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK });
    assert.equal(res.choices[0]!.message.content, 'plain words');
  });

  test('a stream is validated at its end: an invalid one ends with an error event instead of [DONE]', async () => {
    up.script(sse('{"name":', '"Ada"}'));
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK, response_format: RESPONSE_FORMAT, stream: true });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
      })(),
      (err: any) => {
        assert.equal(err.message, "The answer did not match the JSON schema after 1 try: (root) must have required property 'age'.");
        return true;
      },
    );
    assert.equal(text, '{"name":"Ada"}', 'the text reached the client before the check');
  });
});

describe('structured_output: on_failure pass, a configured schema, buffered streams', () => {
  let up: MockUpstream;
  let gw: Running;
  let client: OpenAI;

  before(async () => {
    up = await MockUpstream.start();
    gw = await startGateway(
      yaml(up, `      structured_output: { attempts: 2, on_failure: pass, buffer: true, schema: ${JSON.stringify(PERSON)} }`),
    );
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('the configured schema applies to requests that name none; the last invalid answer passes, marked', async () => {
    up.script(answer('nope'), answer('{"name":1}'));
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK }).withResponse();
    assert.equal(data.choices[0]!.message.content, '{"name":1}');
    assert.equal(response.headers.get('x-sidegate-structured-output'), 'invalid');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_structured_output_total\{router="main",result="invalid"\} 1\n/);
  });

  test('buffer: true: an invalid stream is tried again before the client saw any of it', async () => {
    const first = up.received.length;
    up.script(sse('not ', 'json'), sse('{"name":"Ada",', '"age":36}'));
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK, stream: true });
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    assert.equal(text, '{"name":"Ada","age":36}');
    assert.equal(up.received.length, first + 2);
    assert.equal(up.received[first + 1]!.json().messages[1].content, 'not json');
  });

  test('Anthropic callers: output_format.json_schema, repaired in their own format', async () => {
    const first = up.received.length;
    const message = (text: string) => ({ id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [{ type: 'text', text }], stop_reason: 'end_turn', usage: { input_tokens: 10, output_tokens: 5 } });
    up.script(steps.json(200, message('{"name":"Ada"}')), steps.json(200, message('{"name":"Ada","age":36}')));
    const res = await fetch(`${gw.url}/router/claude/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 100, messages: ASK, output_format: { type: 'json_schema', schema: PERSON } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-sidegate-structured-output'), 'valid');
    assert.equal(((await res.json()) as any).content[0].text, '{"name":"Ada","age":36}');
    assert.equal(up.received[first]!.url, '/v1/messages');
    assert.deepEqual(up.received[first + 1]!.json().messages[1], { role: 'assistant', content: '{"name":"Ada"}' });
  });

  test('a request schema that is not a JSON Schema is a 400', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: ASK, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'nonsense' } } } }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as any;
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.param, 'response_format');
    assert.match(body.error.message, /^The answer's JSON Schema is not valid: /);
  });
});

describe('quality_gate', () => {
  let up: MockUpstream;
  let spare: MockUpstream;
  let gw: Running;
  let client: OpenAI;
  const log = logSink();

  before(async () => {
    up = await MockUpstream.start();
    spare = await MockUpstream.start();
    gw = await startGateway(
      yaml(up, `      fallback: {}\n      quality_gate: { must_not_match: "(?i)lorem ipsum" }`, spare),
      { logger: log.logger },
    );
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await up.close();
    await spare.close();
  });

  test('a refusal falls back to the next target, with no `on:` change; metrics and the access line record it', async () => {
    const [upBefore, spareBefore] = [up.received.length, spare.received.length];
    up.script(answer("I'm sorry, but I can't help with that."));
    spare.script(answer('Ada Lovelace wrote it.'));
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'Ada Lovelace wrote it.');
    assert.equal(response.headers.get('x-sidegate-target'), 'spare');
    assert.equal(response.headers.get('x-sidegate-attempts'), '2');
    assert.deepEqual([up.received.length - upBefore, spare.received.length - spareBefore], [1, 1]);
    const [line] = (await log.accessLines(1)).slice(-1);
    assert.deepEqual(line.quality_gate, ['up:refusal']);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_quality_gate_failures_total\{router="main",upstream="up",check="refusal"\} 1/);
    assert.match(metrics, /ai_gateway_fallbacks_total\{router="main",upstream="up"\} 1/);
  });

  test("OpenAI's refusal field is a refusal too; an empty answer fails min_chars; the last failure is a 502", async () => {
    up.script(steps.json(200, { ...chatCompletion('gpt-4o-mini', ''), choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'I will not do that.' }, finish_reason: 'stop' }] }));
    spare.script(answer(''));
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: ASK }) });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('x-sidegate-attempts'), '2');
    assert.deepEqual(await res.json(), {
      error: {
        message: 'The answer of upstream "spare" failed the quality gate: the answer has 0 characters, fewer than min_chars 1.',
        type: 'api_error',
        param: null,
        code: 'answer_rejected',
      },
    });
  });

  test('must_not_match with (?i); an answer that only calls tools passes', async () => {
    up.script(answer('LOREM IPSUM dolor'));
    spare.script(steps.json(200, { ...chatCompletion('gpt-4o-mini', ''), choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }] }, finish_reason: 'tool_calls' }] }));
    const { data, response } = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK }).withResponse();
    assert.equal(data.choices[0]!.message.tool_calls?.[0]?.id, 't1');
    assert.equal(response.headers.get('x-sidegate-target'), 'spare');
  });

  test('a stream is checked at its end: a refusal ends with an error event', async () => {
    up.script(sse("I'm sorry, ", "but I can't assist with that."));
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK, stream: true });
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      /failed the quality gate: the answer is a refusal: "I'm sorry, but I can't assist with that\."/,
    );
  });
});

describe('quality_gate with retry and buffered streams', () => {
  let up: MockUpstream;
  let gw: Running;
  let client: OpenAI;

  before(async () => {
    up = await MockUpstream.start();
    gw = await startGateway(yaml(up, '      retry: { attempts: 2, backoff: 1ms }\n      quality_gate: { buffer: true, json: true, min_chars: 2, max_chars: 40 }'));
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await up.close();
  });

  test('a failed answer is retried on the same target (no `on:` entry)', async () => {
    const first = up.received.length;
    up.script(answer('{"ok": tru'), answer('{"ok":true}'));
    const res = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK });
    assert.equal(res.choices[0]!.message.content, '{"ok":true}');
    assert.equal(up.received.length, first + 2);
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_retries_total\{router="main",upstream="up"\} 1/);
  });

  test('buffer: true: a failing stream is retried before anything reached the client', async () => {
    const first = up.received.length;
    up.script(sse('{"items": [', '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]}'), sse('{"items":', '[1]}'));
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: ASK, stream: true });
    let text = '';
    for await (const part of stream) text += part.choices[0]?.delta.content ?? '';
    assert.equal(text, '{"items":[1]}');
    assert.equal(up.received.length, first + 2);
  });

  test('a non-2xx answer is not checked: it is passed on as the upstream sent it', async () => {
    up.script(steps.json(400, { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } }));
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'gpt-4o-mini', messages: ASK }) });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as any).error.message, 'bad');
  });
});
