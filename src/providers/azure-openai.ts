import type { ProviderModule } from './provider.js';
import { createHttpProvider, type HttpWire } from './http.js';

export const DEFAULT_AZURE_API_VERSION = '2024-10-21';

/** Endpoints Azure serves per deployment: `/openai/deployments/{deployment}/<endpoint>`. */
const PER_DEPLOYMENT = new Set(['/chat/completions', '/completions', '/embeddings', '/audio/transcriptions', '/audio/speech', '/images/generations']);

function azurePath(apiVersion: string) {
  const version = `api-version=${encodeURIComponent(apiVersion)}`;
  return (basePath: string, path: string, query: string, model: string | undefined): string => {
    const rest = path === '/v1' || path.startsWith('/v1/') ? path.slice(3) : path;
    const q = query ? `${query}&${version}` : `?${version}`;
    // The deployment is the model the target sends (`model:`), or the caller's.
    if (PER_DEPLOYMENT.has(rest) && model) return `${basePath}/openai/deployments/${encodeURIComponent(model)}${rest}${q}`;
    return `${basePath}/openai${rest}${q}`;
  };
}

/** `azure_openai`: Azure OpenAI: deployments in the path, `api-version` in the query, the `api-key` header. */
export const azureOpenai: ProviderModule = {
  name: 'azure_openai',
  format: 'openai',
  summary: '`azure_openai`: Azure OpenAI (`url: https://<resource>.openai.azure.com`; the model a target sends names the deployment; `auth: { header: api-key, value: ... }`)',
  defaultUrl: null,
  inProcess: false,
  keys: {
    api_version: {
      description: `Only for \`provider: azure_openai\`: the \`api-version\` query parameter sent on every call. Default \`${DEFAULT_AZURE_API_VERSION}\`.`,
      type: 'string',
      pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?$',
      default: DEFAULT_AZURE_API_VERSION,
    },
  },
  create: (config, deps) =>
    createHttpProvider(config, deps, {
      format: 'openai',
      defaultUrl: null,
      // A caller's OpenAI key travels as Azure's `api-key`, or as a bearer token (Entra ID).
      callerCredentials: ['api-key', 'authorization'],
      requestIdHeader: 'apim-request-id',
      path: azurePath(config.api_version ?? DEFAULT_AZURE_API_VERSION),
    } satisfies HttpWire),
};
