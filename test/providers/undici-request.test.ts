import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as undici from 'undici';
import type { Dispatcher } from 'undici';
import { dispatchRequest, undiciAgent, undiciPool, undiciProxyAgent } from '../../src/upstream/undici.js';

/** Each path answers on its own schedule. */
async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  switch (req.url) {
    case '/slow-head':
      await sleep(2000);
      res.end('late');
      return;
    case '/stalls':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first chunk');
      await sleep(2000);
      res.end('never read');
      return;
    case '/trickle':
      // 12 chunks 50 ms apart: 600 ms in all, longer than the 400 ms gap allowed.
      res.writeHead(200, { 'content-type': 'text/plain' });
      for (let i = 0; i < 12; i++) {
        res.write(`${i};`);
        await sleep(50);
      }
      res.end('done');
      return;
    default:
      res.end('ok');
  }
}

async function text(body: Dispatcher.ResponseData['body']): Promise<string> {
  let out = '';
  for await (const chunk of body) out += String(chunk);
  return out;
}

describe('undici, as the gateway uses it', () => {
  let server: Server;
  let origin: string;
  let pool: Dispatcher;

  before(async () => {
    server = createServer((req, res) => void answer(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    pool = new (undiciPool())(origin, { connections: 4 });
  });
  after(async () => {
    await pool.close();
    server.closeAllConnections();
    server.close();
  });

  test('the dispatchers are the very ones undici exports', () => {
    assert.equal(undiciPool(), undici.Pool);
    assert.equal(undiciAgent(), undici.Agent);
    assert.equal(undiciProxyAgent(), undici.ProxyAgent);
  });

  test('headersTimeout ends a request whose head is late, with undici\'s own error code', async () => {
    const started = performance.now();
    await assert.rejects(
      dispatchRequest(pool, { origin, path: '/slow-head', method: 'GET', headersTimeout: 100, bodyTimeout: 100 }),
      (err: Error & { code?: string }) => err.code === 'UND_ERR_HEADERS_TIMEOUT',
    );
    assert.ok(performance.now() - started < 1900, 'it did not wait for the answer');
  });

  test('bodyTimeout ends a body that stops, and the reader hears undici\'s own error code', async () => {
    const response = await dispatchRequest(pool, { origin, path: '/stalls', method: 'GET', headersTimeout: 1000, bodyTimeout: 150 });
    assert.equal(response.statusCode, 200);
    await assert.rejects(text(response.body), (err: Error & { code?: string }) => err.code === 'UND_ERR_BODY_TIMEOUT');
  });

  test('bodyTimeout is the longest gap between chunks, not a limit on the whole body', async () => {
    const response = await dispatchRequest(pool, { origin, path: '/trickle', method: 'GET', headersTimeout: 400, bodyTimeout: 400 });
    assert.equal(await text(response.body), '0;1;2;3;4;5;6;7;8;9;10;11;done');
  });

  test('a different limit for the body than for the head', async () => {
    const response = await dispatchRequest(pool, { origin, path: '/trickle', method: 'GET', headersTimeout: 50, bodyTimeout: 400 });
    assert.match(await text(response.body), /done$/);
  });

  test('without limits, undici\'s own apply', async () => {
    const response = await dispatchRequest(pool, { origin, path: '/', method: 'GET' });
    assert.equal(await text(response.body), 'ok');
  });

  test('a request aborted by its signal rejects, and the connection is reused after', async () => {
    const controller = new AbortController();
    const pending = dispatchRequest(pool, { origin, path: '/slow-head', method: 'GET', headersTimeout: 5000, bodyTimeout: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client left')), 50);
    await assert.rejects(pending, /client left/);
    const response = await dispatchRequest(pool, { origin, path: '/', method: 'GET', headersTimeout: 1000, bodyTimeout: 1000 });
    assert.equal(await text(response.body), 'ok');
  });
});
