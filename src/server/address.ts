import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `host:port`, `[::1]:port` or `:port` (all interfaces) → host and port. */
export function parseHostPort(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) throw new Error(`invalid listen address "${text}" (expected host:port)`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}

export function listenOn(server: Server, address: string): Promise<string> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const info = server.address() as AddressInfo;
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve(`http://${shown}:${info.port}`);
    });
  });
}
