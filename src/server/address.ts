import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `host:port`, `[::1]:port` or `:port` (all interfaces) → host and port. */
export function parseHostPort(text: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) throw new Error(`invalid listen address "${text}" (expected host:port)`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}

/**
 * Binds `server` to `address`; resolves with its URL. A failure to bind rejects with an
 * error naming the config key it came from (`role`, e.g. `server.admin`) and the address.
 */
export function listenOn(server: Server, address: string, role: string): Promise<string> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new Error(`cannot listen on ${role} ${address}: ${why}`, { cause: err }));
    };
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      const info = server.address() as AddressInfo;
      const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve(`http://${shown}:${info.port}`);
    });
  });
}
