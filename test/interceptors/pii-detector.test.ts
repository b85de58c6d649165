import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { chunk, steps, type Step } from '../support/mock-upstream.js';
import { anthropicMessage, anthropicStream, anthropicStreamText, chat, chatStreamText, messages, metric, post, setup, type Setup } from './support.js';

const PII = 'Mail jane.doe@example.com, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789, call +44 20 7946 0958, host 10.1.2.3, key sk-proj-abcdefghijklmnopqrstuvwx.';

/** Answers with the last user text the upstream received, so a test sees what the model saw. */
const echo: Step = (req, res) => {
  const body = req.json();
  const last = body.messages[body.messages.length - 1].content;
  steps.chat(`you said: ${last}`)(req, res);
};

function rawSse(text: string): Step {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(text);
  };
}

describe('pii_detector: redact on both sides', () => {
  let s: Setup;
  before(async () => {
    s = await setup('      - pii_detector: { action: redact, on: both }');
  });
  after(() => s.close());

  test('every entity in the prompt is redacted before the model sees it', async () => {
    s.upstream.script(echo);
    const res = await chat(s.gw.url, PII);
    assert.equal(res.status, 200);
    const sent = s.upstream.received.at(-1)!.json().messages[0].content;
    assert.equal(sent, 'Mail [EMAIL], card [CREDIT_CARD], IBAN [IBAN], SSN [SSN], call [PHONE], host [IP_ADDRESS], key [SECRET].');
    assert.equal(res.json().choices[0].message.content, `you said: ${sent}`);
  });

  test('numbers that fail their checksum are left alone', async () => {
    s.upstream.script(echo);
    await chat(s.gw.url, 'card 4111 1111 1111 1112, IBAN DE89 3704 0044 0532 0130 01, order 2024-01-15');
    assert.equal(s.upstream.received.at(-1)!.json().messages[0].content, 'card 4111 1111 1111 1112, IBAN DE89 3704 0044 0532 0130 01, order 2024-01-15');
  });

  test('an answer is redacted, and in a stream a value split over two deltas is still found', async () => {
    s.upstream.script(steps.chat('reach me at bob@example.org'));
    assert.equal((await chat(s.gw.url, 'hi')).json().choices[0].message.content, 'reach me at [EMAIL]');
    s.upstream.script(steps.sse([chunk('gpt-4o', 'write to jane.d'), chunk('gpt-4o', 'oe@exam'), chunk('gpt-4o', 'ple.com today'), chunk('gpt-4o', null, 'stop')]));
    const res = await chat(s.gw.url, 'hi', { stream: true });
    assert.equal(res.status, 200);
    assert.equal(chatStreamText(res.text), 'write to [EMAIL] today');
    assert.ok(!res.text.includes('jane'), 'no piece of the address reached the client');
  });

  test('an Anthropic caller: request and streamed answer in the Messages format', async () => {
    s.upstream.script((req, res) => steps.json(200, anthropicMessage(`got: ${req.json().messages[0].content}`))(req, res));
    const res = await messages(s.gw.url, 'my card is 4111-1111-1111-1111');
    assert.equal(res.json().content[0].text, 'got: my card is [CREDIT_CARD]');
    s.upstream.script(rawSse(anthropicStream(['call +1 415 ', '555 0100 ', 'now'])));
    const streamed = await messages(s.gw.url, 'hi', { stream: true });
    assert.equal(anthropicStreamText(streamed.text), 'call [PHONE] now');
  });

  test('the metric and the access line count what was done, by category', async () => {
    const before = await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', { router: 'main', interceptor: 'pii_detector', action: 'redact', category: 'email' });
    s.upstream.script(steps.chat('ok'));
    await chat(s.gw.url, 'a@example.com and b@example.com', {}, { 'x-request-id': 'req-m1' });
    const line = await s.log.of('req-m1');
    assert.deepEqual(line.interceptors, [{ interceptor: 'pii_detector', action: 'redact', category: 'email', on: 'request', count: 2 }]);
    assert.equal(await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', { router: 'main', interceptor: 'pii_detector', action: 'redact', category: 'email' }), before + 2);
  });
});

describe('pii_detector: block answers 400 content_blocked in the caller\'s format', () => {
  let s: Setup;
  before(async () => {
    s = await setup('      - pii_detector: { entities: [credit_card, ssn], action: block, on: both }');
  });
  after(() => s.close());

  test('OpenAI: the exact body, naming the interceptor and the category, never the value', async () => {
    const res = await chat(s.gw.url, 'my card is 4111 1111 1111 1111', {}, { 'x-request-id': 'req-b1' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(res.json(), {
      error: {
        message: 'The request was blocked by the pii_detector interceptor (category: credit_card).',
        type: 'invalid_request_error',
        param: null,
        code: 'content_blocked',
      },
    });
    assert.equal(s.upstream.received.length, 0, 'nothing went upstream');
  });

  test('Anthropic: the exact body', async () => {
    const res = await post(s.gw.url, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'ssn 123-45-6789' }] }, { 'x-request-id': 'req-b2' });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json(), {
      type: 'error',
      error: { type: 'invalid_request_error', message: 'The request was blocked by the pii_detector interceptor (category: ssn).' },
      request_id: 'req-b2',
    });
  });

  test('an answer that carries a card: JSON → 400; a stream → a final error event, the card never sent', async () => {
    s.upstream.script(steps.chat('your card 4111 1111 1111 1111'));
    const res = await chat(s.gw.url, 'hi');
    assert.equal(res.status, 400);
    assert.equal(res.json().error.message, 'The answer was blocked by the pii_detector interceptor (category: credit_card).');
    s.upstream.script(steps.sse([chunk('gpt-4o', 'sure: 4111 1111 '), chunk('gpt-4o', '1111 1111 ok'), chunk('gpt-4o', null, 'stop')]));
    const streamed = await chat(s.gw.url, 'hi', { stream: true });
    assert.equal(streamed.status, 200);
    assert.ok(!streamed.text.includes('4111'));
    assert.match(streamed.text, /event: error\ndata: \{"error":\{"message":"The answer was blocked by the pii_detector interceptor \(category: credit_card\)\.","type":"invalid_request_error","param":null,"code":"content_blocked"\}\}\n\n$/);
    const client = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    s.upstream.script(steps.sse([chunk('gpt-4o', 'card 4111 1111 1111 1111'), chunk('gpt-4o', null, 'stop')]));
    await assert.rejects(async () => {
      for await (const _ of await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }], stream: true })) void _;
    }, /blocked by the pii_detector interceptor/);
  });
});

describe('pii_detector: log only counts', () => {
  let s: Setup;
  before(async () => {
    s = await setup('      - pii_detector: { entities: [email], action: log }');
  });
  after(() => s.close());

  test('the request goes on unchanged; the access line and the metric say what was seen', async () => {
    s.upstream.script(echo);
    const res = await chat(s.gw.url, 'x@example.com', {}, { 'x-request-id': 'req-l1' });
    assert.equal(res.json().choices[0].message.content, 'you said: x@example.com');
    const line = await s.log.of('req-l1');
    assert.deepEqual(line.interceptors, [{ interceptor: 'pii_detector', action: 'log', category: 'email', on: 'request', count: 1 }]);
    assert.equal(await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', { router: 'main', interceptor: 'pii_detector', action: 'log', category: 'email' }), 1);
  });
});

describe('pii_detector: pseudonymize round trip', () => {
  let s: Setup;
  before(async () => {
    s = await setup('      - pii_detector: { action: pseudonymize, custom: [{ name: employee_id, pattern: "EMP-\\\\d{6}" }] }', { features: '{ cache: { ttl: 1h } }' });
  });
  after(() => s.close());

  test('the model sees stable placeholders; the client gets the values back (JSON, through the SDK)', async () => {
    s.upstream.script((req, res) => {
      const sent = req.json().messages.map((m: { content: string }) => m.content).join(' | ');
      steps.chat(`I will write to [EMAIL_1] about [EMPLOYEE_ID_1]; cc [EMAIL_2]. Seen: ${sent}`)(req, res);
    });
    const client = new OpenAI({ baseURL: `${s.gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'The user is jane@example.com.' },
        { role: 'user', content: 'Tell jane@example.com and bob@example.com about EMP-123456' },
      ],
    });
    const sent = s.upstream.received.at(-1)!.json().messages;
    assert.equal(sent[0].content, 'The user is [EMAIL_1].');
    assert.equal(sent[1].content, 'Tell [EMAIL_1] and [EMAIL_2] about [EMPLOYEE_ID_1]');
    assert.equal(
      answer.choices[0]!.message.content,
      'I will write to jane@example.com about EMP-123456; cc bob@example.com. Seen: The user is jane@example.com. | Tell jane@example.com and bob@example.com about EMP-123456',
    );
  });

  test('a stream: placeholders split over deltas are restored; unknown ones stay', async () => {
    s.upstream.script(steps.sse([chunk('gpt-4o', 'Dear [EM'), chunk('gpt-4o', 'AIL_'), chunk('gpt-4o', '1], see [PHONE_9]'), chunk('gpt-4o', null, 'stop')]));
    const res = await chat(s.gw.url, 'I am ann@example.com', { stream: true });
    assert.equal(s.upstream.received.at(-1)!.json().messages[0].content, 'I am [EMAIL_1]');
    assert.equal(chatStreamText(res.text), 'Dear ann@example.com, see [PHONE_9]');
  });

  test('a cache hit passes the response side: the same restored bytes, without running the interceptor again', async () => {
    const calls = s.upstream.received.length;
    const labels = { router: 'main', interceptor: 'pii_detector', action: 'pseudonymize', category: 'email' };
    const counted = await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', labels);
    s.upstream.script(steps.chat('Hello [EMAIL_1]'));
    const miss = await chat(s.gw.url, 'I am cached@example.com');
    const hit = await chat(s.gw.url, 'I am cached@example.com');
    assert.equal(miss.headers.get('x-cache'), 'MISS');
    assert.equal(hit.headers.get('x-cache'), 'HIT');
    assert.equal(hit.text, miss.text);
    assert.equal(hit.json().choices[0].message.content, 'Hello cached@example.com');
    assert.equal(s.upstream.received.length, calls + 1);
    assert.equal(await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', labels), counted + 1, 'the hit was answered before the interceptor');
  });
});
