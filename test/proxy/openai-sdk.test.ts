import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { singleUpstreamYaml, startGateway, type Running } from '../support/gateway.js';

describe('the openai SDK through the gateway', () => {
  let upstream: MockUpstream;
  let gw: Running;
  let client: OpenAI;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(singleUpstreamYaml(upstream));
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-caller-key', maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  test('chat completion: the answer, the path, the caller key passed through, a request id', async () => {
    upstream.script(steps.chat('plain answer'));
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(data.choices[0]!.message.content, 'plain answer');
    assert.equal(data.model, 'gpt-4o-mini');
    const got = upstream.received.at(-1)!;
    assert.equal(got.method, 'POST');
    assert.equal(got.url, '/v1/chat/completions');
    assert.equal(got.headers.authorization, 'Bearer sk-caller-key');
    assert.deepEqual(got.json().messages, [{ role: 'user', content: 'hi' }]);
    const id = response.headers.get('x-request-id');
    assert.ok(id && id.length > 8);
    assert.equal(got.headers['x-request-id'], id, 'the upstream sees the same request id');
    assert.match(response.headers.get('server-timing') ?? '', /^gateway;dur=[\d.]+, upstream;dur=[\d.]+$/);
  });

  test('streaming chat: every delta arrives, in order', async () => {
    const model = 'gpt-4o-mini';
    upstream.script(steps.sse([chunk(model, 'Hel'), chunk(model, 'lo, '), chunk(model, 'world'), chunk(model, null, 'stop')], 5));
    const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], stream: true });
    const parts: string[] = [];
    let finish: string | null = null;
    for await (const event of stream) {
      parts.push(event.choices[0]?.delta.content ?? '');
      finish = event.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(parts.join(''), 'Hello, world');
    assert.equal(finish, 'stop');
    assert.equal(upstream.received.at(-1)!.json().stream, true);
  });

  test('embeddings', async () => {
    upstream.script(
      steps.json(200, {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.25, -0.5, 1] }],
        model: 'text-embedding-3-small',
        usage: { prompt_tokens: 2, total_tokens: 2 },
      }),
    );
    const result = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'two words', encoding_format: 'float' });
    assert.deepEqual(result.data[0]!.embedding, [0.25, -0.5, 1]);
    assert.equal(upstream.received.at(-1)!.url, '/v1/embeddings');
  });

  test('models list (GET passes through)', async () => {
    upstream.script(steps.json(200, { object: 'list', data: [{ id: 'gpt-4o', object: 'model', created: 1, owned_by: 'openai' }] }));
    const page = await client.models.list();
    assert.deepEqual(page.data.map((m) => m.id), ['gpt-4o']);
    const got = upstream.received.at(-1)!;
    assert.equal(got.method, 'GET');
    assert.equal(got.url, '/v1/models');
  });

  test('file upload: the multipart body reaches the upstream byte for byte', async () => {
    upstream.script(
      steps.json(200, { id: 'file-abc', object: 'file', bytes: 38, created_at: 1, filename: 'train.jsonl', purpose: 'fine-tune', status: 'processed' }),
    );
    const content = Buffer.from('{"messages":[{"role":"user","content":"x"}]}\n');
    const file = await client.files.create({ file: await toFile(content, 'train.jsonl'), purpose: 'fine-tune' });
    assert.equal(file.id, 'file-abc');
    const got = upstream.received.at(-1)!;
    assert.equal(got.url, '/v1/files');
    assert.match(String(got.headers['content-type']), /^multipart\/form-data; boundary=/);
    assert.ok(got.body.includes(content), 'the file content is inside the multipart body');
    assert.ok(got.body.toString().includes('name="purpose"'));
  });

  test('upstream errors pass through unchanged', async () => {
    const upstreamError = { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } };
    upstream.script(steps.json(401, upstreamError, { 'x-upstream-marker': 'yes' }));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [] }),
    });
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('x-upstream-marker'), 'yes');
    assert.deepEqual(await res.json(), upstreamError);
  });
});
