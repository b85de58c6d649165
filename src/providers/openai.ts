import type { ProviderModule } from './provider.js';
import { createHttpProvider, type HttpWire } from './http.js';

const WIRE: HttpWire = {
  format: 'openai',
  defaultUrl: 'https://api.openai.com',
  callerCredentials: ['authorization'],
  requestIdHeader: 'x-request-id',
};

/** `openai`: api.openai.com (or any URL that serves OpenAI's API as OpenAI does). */
export const openai: ProviderModule = {
  name: 'openai',
  format: 'openai',
  summary: '`openai`: OpenAI\'s API (default url `https://api.openai.com`)',
  defaultUrl: WIRE.defaultUrl,
  inProcess: false,
  keys: {},
  create: (config, deps) => createHttpProvider(config, deps, WIRE),
};
