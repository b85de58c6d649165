/**
 * undici's dispatchers, each required from its own file when first used (at compile time).
 * undici's index also loads fetch, WebSocket, EventSource, the caches and the mocks: 110
 * modules, against about 25 for a pool and a proxy agent, and most of the cost of a start.
 * A test checks that these are the very classes undici exports.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const require = createRequire(import.meta.url);

export const undiciPool = (): typeof Undici.Pool => require('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
export const undiciProxyAgent = (): typeof Undici.ProxyAgent => require('undici/lib/dispatcher/proxy-agent.js') as typeof Undici.ProxyAgent;
export const undiciAgent = (): typeof Undici.Agent => require('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
