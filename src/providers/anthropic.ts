import type { ProviderModule } from './provider.js';
import { createHttpProvider } from './http.js';

export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/**
 * `anthropic`: Anthropic's Messages API. A caller of /v1/messages goes through natively
 * (its `anthropic-version` and `anthropic-beta` headers passed on); a chat completion is
 * translated (src/translate) and its answer translated back.
 */
export const anthropic: ProviderModule = {
  name: 'anthropic',
  format: 'anthropic',
  summary: '`anthropic`: Anthropic\'s Messages API (default url `https://api.anthropic.com`; chat completions are translated)',
  defaultUrl: 'https://api.anthropic.com',
  inProcess: false,
  keys: {
    anthropic_version: {
      description: `Only for \`provider: anthropic\`: the \`anthropic-version\` header sent when the caller sends none. Default \`${DEFAULT_ANTHROPIC_VERSION}\`.`,
      type: 'string',
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$',
      default: DEFAULT_ANTHROPIC_VERSION,
    },
  },
  create: (config, deps) =>
    createHttpProvider(config, deps, {
      format: 'anthropic',
      defaultUrl: 'https://api.anthropic.com',
      // On /v1/messages both are the caller's Anthropic credential (SDKs send either).
      callerCredentials: ['x-api-key', 'authorization'],
      requestIdHeader: 'request-id',
      defaults: { 'anthropic-version': config.anthropic_version ?? DEFAULT_ANTHROPIC_VERSION },
    }),
};
