import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { MockUpstream, chatCompletion, steps } from '../support/mock-upstream.js';
import { startGateway } from '../support/gateway.js';
import { payloadLog } from '../../src/features/payload-log.js';

const DEPS = { routerName: 'r' } as never;

function yaml(upstream: string, file: string): string {
  return `
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream} }
routers:
  logged:
    targets: [{ upstream: up }]
    features:
      payload_log: { file: "${file}", max_bytes: 256b }
  quiet:
    targets: [{ upstream: up }]
    features:
      payload_log: { file: "${file}", sample: 0 }
`;
}

test('payload_log writes sampled bodies to a file, PII-redacted and capped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sidegate-payload-'));
  const file = join(dir, 'logs', 'payloads.jsonl');
  const upstream = await MockUpstream.start((req, res) => steps.json(200, chatCompletion(req.json().model, 'Call me on +1 415 555 2671.'))(req, res));
  const gw = await startGateway(yaml(upstream.url, file));
  try {
    const logged = new OpenAI({ baseURL: `${gw.url}/router/logged/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const quiet = new OpenAI({ baseURL: `${gw.url}/router/quiet/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const answer = await logged.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'I am jane.doe@example.com, card 4111 1111 1111 1111' }] });
    assert.equal(answer.choices[0]!.message.content, 'Call me on +1 415 555 2671.', 'the client gets the answer unchanged');
    assert.match(upstream.received[0]!.body.toString(), /jane\.doe@example\.com/, 'the upstream gets the request unchanged');
    await quiet.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'not logged' }] });
    await logged.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x'.repeat(1000) }] });
  } finally {
    await gw.close(); // flushes the file
    await upstream.close();
  }
  assert.ok(existsSync(file));
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 2, 'sample: 0 logs nothing');
  const [first, long] = lines;
  assert.equal(first.type, 'payload');
  assert.equal(first.router, 'logged');
  assert.equal(first.upstream, 'up');
  assert.equal(first.status, 200);
  assert.match(first.request, /I am \[EMAIL\], card \[CREDIT_CARD\]/);
  // The whole values: a timestamp or a request id may hold "4111" by chance.
  assert.doesNotMatch(JSON.stringify(first), /jane\.doe|4111 1111/);
  assert.match(first.response, /Call me on \[PHONE\]\./);
  assert.doesNotMatch(first.response, /555 2671/);
  assert.ok(first.request_bytes > 0 && first.response_bytes > 0);
  assert.equal(long.request.length, 257, 'cut at max_bytes, with an ellipsis');
  assert.ok(long.request.endsWith('…'));
  assert.ok(long.request_bytes > 1000);
});

test('payload_log redacts with the pii_detector patterns: dates, times and ids stay, a number failing Luhn is no card', () => {
  const stage = payloadLog.create({ sample: 1, max_bytes: '1kb' }, DEPS) as unknown as { text(b: Buffer, n: number): string; close(): void };
  const text = (s: string): string => stage.text(Buffer.from(s), Buffer.byteLength(s));
  try {
    assert.equal(text('gpt-4o-mini-2024-07-18 at 2024-07-18 10:20:30, created 1700000000'), 'gpt-4o-mini-2024-07-18 at 2024-07-18 10:20:30, created 1700000000');
    assert.equal(text('a@b.io, (415) 555-2671, 4111111111111112'), '[EMAIL], [PHONE], 4111111111111112');
    assert.equal(text('from 10.20.30.40 with sk-proj-abcdefghijklmnopqrstuvwxyz0123456789'), 'from [IP_ADDRESS] with [SECRET]');
  } finally {
    stage.close();
  }
});
