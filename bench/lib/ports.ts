import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

/**
 * `count` loopback ports free right now, all different: each is held open until all are
 * found (ports taken one after another may come back the same, and a gateway then
 * cannot bind its second listener).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    for (const server of servers) {
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
    }
    return servers.map((server) => (server.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
