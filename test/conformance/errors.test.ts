/**
 * Errors, cancellation and broken streams across formats, through both SDKs: an upstream
 * error reaches the client in the client's API format with that API's status conventions
 * (Anthropic's 529 overloaded is OpenAI's 503, and back), Retry-After included; a client
 * that cancels mid-stream cancels the upstream; an upstream dying mid-stream ends the
 * client's stream with an error event the SDK raises.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { anthropicMessage, dies, failure, openaiCompletion, stalls } from './transcripts.js';

type Json = Record<string, any>;

interface ErrorCase {
  /** The upstream's status, error type and message (its own format). */
  status: number;
  type: string;
  headers?: Record<string, string>;
  /** The status and type the client sees, and its SDK's error class. */
  clientStatus: number;
  clientType: string;
  sdkClass: string;
}

const FROM_ANTHROPIC: ErrorCase[] = [
  { status: 400, type: 'invalid_request_error', clientStatus: 400, clientType: 'invalid_request_error', sdkClass: 'BadRequestError' },
  { status: 401, type: 'authentication_error', clientStatus: 401, clientType: 'authentication_error', sdkClass: 'AuthenticationError' },
  { status: 429, type: 'rate_limit_error', headers: { 'retry-after': '7' }, clientStatus: 429, clientType: 'rate_limit_error', sdkClass: 'RateLimitError' },
  { status: 500, type: 'api_error', clientStatus: 500, clientType: 'api_error', sdkClass: 'InternalServerError' },
  { status: 529, type: 'overloaded_error', clientStatus: 503, clientType: 'api_error', sdkClass: 'InternalServerError' },
];

const FROM_OPENAI: ErrorCase[] = [
  { status: 400, type: 'invalid_request_error', clientStatus: 400, clientType: 'invalid_request_error', sdkClass: 'BadRequestError' },
  { status: 401, type: 'invalid_api_key', clientStatus: 401, clientType: 'authentication_error', sdkClass: 'AuthenticationError' },
  { status: 429, type: 'rate_limit_exceeded', headers: { 'retry-after': '7' }, clientStatus: 429, clientType: 'rate_limit_error', sdkClass: 'RateLimitError' },
  { status: 500, type: 'server_error', clientStatus: 500, clientType: 'api_error', sdkClass: 'InternalServerError' },
  { status: 503, type: 'server_error', clientStatus: 529, clientType: 'overloaded_error', sdkClass: 'OverloadedError' },
];

const CLAUDE_ANSWER = anthropicMessage([{ type: 'text', text: 'One two three four five six.' }], 'end_turn');
const GPT_ANSWER = openaiCompletion({ content: 'One two three four five six.' }, 'stop');

describe('conformance: errors and broken streams across formats', () => {
  let claude: MockUpstream;
  let gpt: MockUpstream;
  let gw: Running;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    claude = await MockUpstream.start();
    gpt = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  claude: { provider: anthropic, url: ${claude.url}, auth: { header: x-api-key, value: sk-ant-gateway } }
  gpt: { provider: openai, url: ${gpt.url}, auth: { bearer: sk-openai-gateway } }
routers:
  to-claude: { targets: [{ upstream: claude, model: claude-sonnet-4-5 }] }
  to-gpt: { targets: [{ upstream: gpt, model: gpt-4o }] }
`);
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-openai-caller', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-caller', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await claude.close();
    await gpt.close();
  });

  for (const c of FROM_ANTHROPIC) {
    test(`an Anthropic ${c.status} ${c.type} reaches the openai SDK as ${c.clientStatus} ${c.sdkClass}`, async () => {
      claude.script(failure('anthropic', c.status, c.type, `upstream says ${c.type}`, c.headers));
      const err = await openai.chat.completions.create({ model: 'to-claude', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      assert.equal(err.constructor.name, c.sdkClass, String(err));
      assert.equal(err.status, c.clientStatus);
      assert.deepEqual(err.error, { message: `upstream says ${c.type}`, type: c.clientType, param: null, code: c.type });
      if (c.headers) assert.equal(err.headers.get('retry-after'), '7');
    });
  }

  for (const c of FROM_OPENAI) {
    test(`an OpenAI ${c.status} ${c.type} reaches the Anthropic SDK as ${c.clientStatus} ${c.clientType}`, async () => {
      gpt.script(failure('openai', c.status, c.type, `upstream says ${c.type}`, c.headers));
      const err = await anthropic.messages.create({ model: 'to-gpt', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
      assert.equal(err.constructor.name, c.sdkClass, String(err));
      assert.equal(err.status, c.clientStatus);
      assert.deepEqual(err.error, { type: 'error', error: { type: c.clientType, message: `upstream says ${c.type}` } });
      if (c.headers) assert.equal(err.headers.get('retry-after'), '7');
    });
  }

  test('an upstream answer that is not JSON becomes an error in the caller\'s format', async () => {
    claude.script((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>Bad gateway</html>');
    });
    const err = await openai.chat.completions.create({ model: 'to-claude', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    assert.equal(err.status, 502);
    assert.equal(err.error.message, '<html>Bad gateway</html>');
  });

  test('the openai SDK cancelling mid-stream cancels the Anthropic upstream', async () => {
    claude.script(stalls('anthropic', CLAUDE_ANSWER, 4));
    const stream = await openai.chat.completions.create({ model: 'to-claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text) break; // leaving the loop aborts the request
    }
    assert.equal(text, 'One two three ');
    await claude.received.at(-1)!.aborted;
  });

  test('the Anthropic SDK cancelling mid-stream cancels the OpenAI upstream', async () => {
    gpt.script(stalls('openai', GPT_ANSWER, 2));
    const stream = anthropic.messages.stream({ model: 'to-gpt', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    const ended = stream.done().catch((e) => e);
    const first = await new Promise<string>((resolve) => stream.on('text', (t) => resolve(t)));
    assert.equal(first, 'One two three ');
    stream.abort();
    assert.ok((await ended) instanceof Anthropic.APIUserAbortError);
    await gpt.received.at(-1)!.aborted;
  });

  test('an Anthropic upstream dying mid-stream ends the openai SDK\'s stream with an error', async () => {
    claude.script(dies('anthropic', CLAUDE_ANSWER, 4));
    const stream = await openai.chat.completions.create({ model: 'to-claude', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    const err = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e) => e);
    assert.equal(text, 'One two three ');
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.match(err.message, /upstream "claude" ended the stream early/);
  });

  test('an OpenAI upstream dying mid-stream ends the Anthropic SDK\'s stream with an error event', async () => {
    gpt.script(dies('openai', GPT_ANSWER, 2));
    const stream = anthropic.messages.stream({ model: 'to-gpt', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const err = await stream.finalMessage().catch((e) => e);
    assert.equal(text, 'One two three ');
    assert.ok(err instanceof Anthropic.APIError, String(err));
    assert.match(err.message, /upstream \\?"gpt\\?" ended the stream early/);
  });

  test('an upstream stream that ends cleanly but too early is an error too', async () => {
    gpt.script(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o', choices: [{ index: 0, delta: { content: 'Half' }, finish_reason: null }] })}\n\n`);
    });
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'to-gpt', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const text = await res.text();
    const last = text.trim().split('\n\n').at(-1)!;
    assert.match(last, /^event: error\ndata: /);
    const error = JSON.parse(last.split('data: ')[1]!) as Json;
    assert.equal(error.type, 'error');
    assert.equal(error.error.type, 'api_error');
    assert.doesNotMatch(text, /message_stop/);
  });
});
