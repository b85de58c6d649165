/**
 * The floor: the thinnest reasonable Node proxy. node:http in, one undici Pool out,
 * bodies piped both ways, hop-by-hop headers dropped, nothing else: no parsing, no
 * routing, no logging, no metrics. Every sidegate figure is a ratio to this one.
 *
 * Started by bench/run.ts as a child process (plain node, no loader) with
 * `BENCH_UPSTREAM` (the mock's URL): it listens on a free loopback port, sends `{ port }`
 * over IPC and exits when the parent goes away.
 */
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

const pool = new Pool(process.env.BENCH_UPSTREAM!, { connections: 128, pipelining: 1 });

function withoutHopByHop(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function ignore(): void {}

function fail(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(502, { 'content-length': 0 }).end();
}

function proxy(req: IncomingMessage, res: ServerResponse): void {
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  pool
    .request({
      path: req.url!,
      method: req.method as Dispatcher.HttpMethod,
      headers: withoutHopByHop(req.headers),
      body: hasBody ? req : null,
    })
    .then(
      (upstream) => {
        if (res.destroyed) return void upstream.body.dump().catch(ignore); // the client left (Node 24 would throw in pipeline)
        res.writeHead(upstream.statusCode, withoutHopByHop(upstream.headers) as OutgoingHttpHeaders);
        pipeline(upstream.body, res, ignore);
      },
      () => fail(res),
    );
}

const server = createServer({ keepAliveTimeout: 65_000 }, proxy);
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
