/**
 * What a client can send: paths that try to climb out of the upstream's base path, bodies
 * nested too deep or naming `model` twice, uploads over max_body (streamed, chunked,
 * multipart through the SDK), ambiguous framing, oversized heads, slow heads and bodies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import OpenAI, { toFile } from 'openai';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

/** Writes raw bytes on a new connection and resolves with everything the gateway sent back before closing. */
function raw(url: string, bytes: string | Buffer, keepOpen = false): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(bytes);
      if (!keepOpen) socket.end();
    });
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.[01] (\d{3})/.exec(response)?.[1] ?? 0);
}

function chat(url: string, body: string, path = '/v1/chat/completions'): Promise<Response> {
  return fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

describe('hostile requests', () => {
  let upstream: MockUpstream;
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    gw = await startGateway(`
version: 1
logging: { level: silent }
server: { max_body: 1mb, timeouts: { headers: 300ms, body: 300ms } }
upstreams:
  a: { provider: openai, url: "${upstream.url}/tenant-a", auth: { bearer: key-of-tenant-a } }
default_router: tenant
routers:
  tenant:
    targets: [{ upstream: a }]
    features: { cache: {} }
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  describe('paths never leave the upstream base path', () => {
    for (const path of [
      '/v1/../../config',
      '/v1/%2e%2e/%2e%2e/config',
      '/v1/%2E%2E/__stats',
      '/router/tenant/v1/../../tenant-b/v1/models',
      '/v1/models/..%2f..%2fconfig',
      '/v1/files/a%5c..%5cb',
      '/v1/%252e%252e/config',
      '/v1/./models',
      '/v1/models\\..\\..\\config',
    ]) {
      test(`${path} → 400 invalid_request, nothing sent upstream`, async () => {
        const before = upstream.received.length;
        const answer = await raw(gw.url, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(answer), 400, answer);
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));
        assert.deepEqual(body, {
          error: {
            message: 'The request path may not contain "." or ".." segments, encoded slashes or backslashes.',
            type: 'invalid_request_error',
            param: 'path',
            code: 'invalid_request',
          },
        });
        assert.equal(upstream.received.length, before);
      });
    }

    test('ordinary paths, dots in names and dots in the query still pass, under the base path', async () => {
      const res = await fetch(`${gw.url}/v1/models/gpt-4.1-mini?after=../x`);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(upstream.received.at(-1)!.url, '/tenant-a/v1/models/gpt-4.1-mini?after=../x');
    });
  });

  describe('JSON bodies', () => {
    test('nested 100 000 deep, to a router with cache → 400 invalid_json', async () => {
      const deep = `{"model":"tenant","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const res = await chat(gw.url, deep);
      assert.equal(res.status, 400);
      assert.deepEqual(await res.json(), {
        error: { message: 'Request body nests deeper than 128 levels.', type: 'invalid_request_error', param: null, code: 'invalid_json' },
      });
    });

    test('nesting at the limit passes', async () => {
      const body = JSON.stringify({ model: 'tenant', messages: [{ role: 'user', content: 'hi' }], x: JSON.parse(`${'['.repeat(127)}${']'.repeat(127)}`) });
      const res = await chat(gw.url, body);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });

    for (const [name, body] of [
      ['model twice', '{"model":"tenant","messages":[],"model":"other"}'],
      ['model twice, one escaped', '{"model":"tenant","messages":[],"mod\\u0065l":"other"}'],
      ['any top-level key twice', '{"model":"tenant","messages":[],"stream":false,"stream":true}'],
    ] as const) {
      test(`${name} → 400 invalid_json`, async () => {
        const res = await chat(gw.url, body);
        assert.equal(res.status, 400);
        assert.deepEqual(await res.json(), {
          error: { message: 'Request body names the same top-level key twice.', type: 'invalid_request_error', param: null, code: 'invalid_json' },
        });
      });
    }

    test('the same key at different depths, and "model" inside content, are fine', async () => {
      const res = await chat(gw.url, '{"model":"tenant","messages":[{"role":"user","content":"\\"model\\": \\"model\\"","model":"x"}],"metadata":{"model":"y"}}');
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });
  });

  describe('max_body holds for every body', () => {
    test('a 2 MB multipart upload through the openai SDK (fetch) gets its 413', async () => {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const before = upstream.received.length;
      await assert.rejects(
        client.files.create({ file: await toFile(Buffer.alloc(2 * 1024 * 1024, 97), 'data.jsonl'), purpose: 'batch' }),
        (err: any) => {
          assert.equal(err.status, 413);
          assert.equal(err.code, 'request_too_large');
          return true;
        },
      );
      assert.equal(upstream.received.length, before);
    });

    test('a chunked binary upload over the limit → 413, and the upstream call is aborted', async () => {
      const before = upstream.received.length;
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${gw.url}/v1/files`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        const chunk = Buffer.alloc(64 * 1024, 98);
        for (let i = 0; i < 32; i++) req.write(chunk); // 2 MB, chunked (no content-length)
        req.end();
      });
      assert.equal(status, 413);
      assert.equal(JSON.parse(body).error.code, 'request_too_large');
      // Whatever reached the upstream before the cut is less than the limit, never the whole upload.
      for (const r of upstream.received.slice(before)) assert.ok(r.body.length <= 1024 * 1024, `upstream got ${r.body.length} bytes`);
    });

    test('a chunked JSON body over the limit → 413 on its connection, and nothing reaches the upstream', async () => {
      const before = upstream.received.length;
      const content = 'x'.repeat(1024 * 1024);
      const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
      const chunk = (text: string): string => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
      const body = chunk('{"model":"gpt-4o-mini","messages":[{"role":"user","content":"') + chunk(content) + chunk(content) + chunk('"}]}') + '0\r\n\r\n';
      const answer = await raw(gw.url, head + body, true);
      assert.equal(statusOf(answer), 413, answer.slice(0, 200));
      assert.match(answer, /"code":"request_too_large"/);
      assert.deepEqual(upstream.received.slice(before).filter((r) => r.url.includes('/chat/completions')), []);
    });

    test('a client gone halfway through its JSON body: nothing reaches the upstream, the next request is answered', async () => {
      const before = upstream.received.length;
      const { hostname, port } = new URL(gw.url);
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(port), hostname, () => {
          socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"model":"gpt-4o-mini","mess');
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(upstream.received.slice(before).filter((r) => r.url.includes('/chat/completions')), []);
      const res = await chat(gw.url, JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still here?' }] }));
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    });

    test('a chunked upload under the limit goes through whole', async () => {
      const res = await fetch(`${gw.url}/v1/files`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          start(c) {
            c.enqueue(new Uint8Array(1000).fill(99));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(upstream.received.at(-1)!.body.length, 1000);
    });
  });

  describe('framing and slow clients', () => {
    test('HTTP/1.0 with Transfer-Encoding: chunked → 400', async () => {
      const before = upstream.received.length;
      const answer = await raw(gw.url, 'POST /v1/files HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      assert.equal(statusOf(answer), 400, answer);
      assert.match(answer, /"message":"Transfer-Encoding is not allowed on an HTTP\/1.0 request."/);
      assert.equal(upstream.received.length, before);
    });

    test('headers over 16 KB → 431 request_header_too_large', async () => {
      const answer = await raw(gw.url, `GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, true);
      assert.equal(statusOf(answer), 431, answer);
      assert.match(answer, /"code":"request_header_too_large"/);
    });

    test('headers that never finish → 408 request_timeout (server.timeouts.headers)', async () => {
      const answer = await raw(gw.url, 'GET /v1/models HTTP/1.1\r\nHost: x\r\n', true);
      assert.equal(statusOf(answer), 408, answer);
      assert.match(answer, /"code":"request_timeout"/);
    });

    test('a body that never finishes → 408 request_timeout (server.timeouts.body)', async () => {
      const answer = await raw(gw.url, 'POST /v1/files HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc', true);
      assert.equal(statusOf(answer), 408, answer);
      assert.match(answer, /"code":"request_timeout"/);
    });
  });
});
