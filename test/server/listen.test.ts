import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { createGateway } from '../../src/index.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { singleUpstreamYaml } from '../support/gateway.js';

async function takenPort(): Promise<{ port: number; close(): void }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function freePortNow(): Promise<number> {
  const probe = await takenPort();
  probe.close();
  return probe.port;
}

test('a listener that cannot bind leaves none open: the data port is free again, and listen can be retried', async () => {
  const upstream = await MockUpstream.start();
  const gateway = await createGateway({ yaml: singleUpstreamYaml(upstream) });
  const taken = await takenPort();
  try {
    const dataPort = await freePortNow();
    await assert.rejects(gateway.listen({ listen: `127.0.0.1:${dataPort}`, admin: `127.0.0.1:${taken.port}` }), {
      message: `cannot listen on server.admin 127.0.0.1:${taken.port}: the address is already in use`,
    });
    // Nothing holds the data port the failed listen had bound.
    const again = createServer();
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.listen(dataPort, '127.0.0.1', resolve);
    });
    again.close();
    const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: '127.0.0.1:0' });
    assert.equal((await fetch(`${url}/v1/models`)).status, 200);
  } finally {
    taken.close();
    await gateway.close({ drainMs: 0 });
    await upstream.close();
  }
});
