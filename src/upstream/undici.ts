/**
 * undici's dispatchers and its `request()`, each required from its own file when first
 * used (at compile time). undici's index also loads fetch, WebSocket, EventSource, the
 * caches and the mocks: 110 modules against 24 for a pool, an agent and `request`, which
 * is most of undici's share of a start and several MB of a sidecar's memory. The index is
 * what adds `request()` to every dispatcher; without it, `dispatchRequest` calls the same
 * function on one. A test checks that these are the very ones undici exports.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import type { Dispatcher } from 'undici';

const require = createRequire(import.meta.url);

export const undiciPool = (): typeof Undici.Pool => require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
/** The proxy agent tunnels with the `connect()` that undici's index adds to dispatchers: it needs the index (only an upstream with `proxy:` loads it). */
export const undiciProxyAgent = (): typeof Undici.ProxyAgent => (require('undici') as typeof Undici).ProxyAgent;
export const undiciAgent = (): typeof Undici.Agent => require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;

type RequestApi = (this: Dispatcher, options: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
let requestApi: RequestApi | undefined;

/** `dispatcher.request(options)`, as undici's index defines it. */
export function dispatchRequest(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  requestApi ??= require('undici/lib/api/api-request.js') as RequestApi;
  return requestApi.call(dispatcher, options);
}
