import { createGateway, type Gateway, type GatewayOptions } from '../../src/index.js';
import { MockUpstream } from './mock-upstream.js';

export interface Running {
  gateway: Gateway;
  /** Data-plane base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  adminUrl: string;
  close(): Promise<void>;
}

/** Starts a gateway from inline YAML on port 0 (data plane and admin), logging nothing. */
export async function startGateway(yaml: string, options: GatewayOptions = {}): Promise<Running> {
  const gateway = await createGateway({ yaml }, options);
  const { url, adminUrl } = await gateway.listen({ listen: '127.0.0.1:0', admin: '127.0.0.1:0' });
  return { gateway, url, adminUrl: adminUrl!, close: () => gateway.close({ drainMs: 1000 }) };
}

/** A one-upstream config pointing at `mock`, with extra router YAML spliced in. */
export function singleUpstreamYaml(mock: MockUpstream, opts: { auth?: string; model?: string; extra?: string } = {}): string {
  return `
version: 1
logging: { level: silent }
upstreams:
  up:
    provider: openai
    url: ${mock.url}
${opts.auth ? `    auth: ${opts.auth}\n` : ''}default_router: main
routers:
  main:
    targets:
      - upstream: up
${opts.model ? `        model: ${opts.model}\n` : ''}${opts.extra ?? ''}`;
}
