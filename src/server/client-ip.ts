import { BlockList, isIPv6 } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** Finds the client's address of a request: the TCP peer, or what trusted proxies forwarded. */
export type ClientIp = (req: IncomingMessage) => string;

function family(address: string): 'ipv4' | 'ipv6' {
  return isIPv6(address) ? 'ipv6' : 'ipv4';
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`. */
function plain(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * Builds the lookup once from `server.trusted_proxies`. With no trusted proxy the client is
 * the TCP peer; otherwise, while the peer is trusted, `X-Forwarded-For` is read from the
 * right and the first untrusted address is the client.
 */
export function clientIpResolver(trusted: readonly string[] | undefined): ClientIp {
  if (!trusted || trusted.length === 0) return (req) => plain(req.socket.remoteAddress ?? '');
  const list = new BlockList();
  for (const entry of trusted) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const f = family(address);
    if (bits === undefined) list.addAddress(address, f);
    else list.addSubnet(address, Number(bits), f);
  }
  const isTrusted = (address: string): boolean => {
    try {
      return list.check(address, family(address));
    } catch {
      return false; // not an IP address at all
    }
  };
  return (req) => {
    let client = plain(req.socket.remoteAddress ?? '');
    if (!isTrusted(client)) return client;
    const header = req.headers['x-forwarded-for'];
    if (!header) return client;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = plain(hops[i]!.trim());
      if (!hop) continue;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
}
