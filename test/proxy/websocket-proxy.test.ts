import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import WebSocket, { WebSocketServer } from 'ws';
import OpenAI from 'openai';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('WebSocket upgrades (/v1/realtime) are proxied', () => {
  let server: Server;
  let wss: WebSocketServer;
  let hostPort: string;
  const upgrades: IncomingMessage[] = [];
  let gw: Running;

  before(async () => {
    server = createServer();
    wss = new WebSocketServer({ server });
    wss.on('connection', (socket, req) => {
      upgrades.push(req);
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    hostPort = await listen(server);
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  rt: { provider: openai, url: "http://${hostPort}", auth: { bearer: upstream-key } }
default_router: realtime
routers:
  realtime: { targets: [{ upstream: rt, model: gpt-4o-realtime-preview }] }
`);
  });
  after(async () => {
    await gw.close();
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.close();
  });

  test('messages flow both ways; the model is rewritten and the credential injected', async () => {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/realtime?model=gpt-realtime`, { headers: { authorization: 'Bearer caller-key' } });
    await once(ws, 'open');
    ws.send('hello');
    const [reply] = await once(ws, 'message');
    assert.equal(reply.toString(), 'echo:hello');
    ws.close();
    await once(ws, 'close');
    const req = upgrades.at(-1)!;
    assert.equal(req.url, '/v1/realtime?model=gpt-4o-realtime-preview');
    assert.equal(req.headers.authorization, 'Bearer upstream-key');
  });

  test('an unknown router refuses the upgrade with an OpenAI-format 404', async () => {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/router/nope/v1/realtime`);
    ws.on('error', () => {}); // terminate() below reports the refused handshake as an error
    const [, res] = await once(ws, 'unexpected-response');
    assert.equal(res.statusCode, 404);
    ws.terminate();
  });
});

describe('an upstream behind an outbound forward proxy', () => {
  let upstream: MockUpstream;
  let proxy: Server;
  let proxyAddress: string;
  const tunnels: string[] = [];
  let gw: Running;

  before(async () => {
    upstream = await MockUpstream.start();
    proxy = createServer();
    proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const out = connect(Number(port), host!, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        out.write(head);
        out.pipe(client);
        client.pipe(out);
      });
      out.on('error', () => client.destroy());
      client.on('error', () => out.destroy());
    });
    proxyAddress = await listen(proxy);
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url}, proxy: "http://${proxyAddress}" }
default_router: main
routers:
  main: { targets: [{ upstream: up }] }
`);
  });
  after(async () => {
    await gw.close();
    proxy.closeAllConnections();
    proxy.close();
    await upstream.close();
  });

  test('requests reach the upstream through the proxy', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(answer.model, 'gpt-4o');
    assert.equal(tunnels.at(-1), upstream.url.replace('http://', ''));
    assert.equal(upstream.received.length, 1);
  });
});
