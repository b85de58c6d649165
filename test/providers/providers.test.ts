/**
 * The provider modules' own wire details: Azure's deployment paths, api-version and api-key;
 * the schema's provider list and per-provider keys from the registry; the mixed-provider
 * example served through both SDKs (its offline router).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { createGateway } from '../../src/index.js';
import { gatewaySchema } from '../../src/config/schema.js';
import { PROVIDERS } from '../../src/providers/all.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { answer, openaiCompletion } from '../conformance/transcripts.js';

describe('azure_openai: deployments in the path, api-version, api-key', () => {
  let azure: MockUpstream;
  let gw: Running;

  before(async () => {
    azure = await MockUpstream.start(answer('openai', openaiCompletion({ content: 'from Azure' }, 'stop')));
    gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  azure: { provider: azure_openai, url: ${azure.url}, api_version: 2025-01-01-preview, auth: { header: api-key, value: azure-key } }
  azure-pass: { provider: azure_openai, url: ${azure.url} }
routers:
  chat: { targets: [{ upstream: azure, model: gpt-4o-prod }] }
  pass: { targets: [{ upstream: azure-pass, model: gpt-4o-prod }] }
`);
  });
  after(async () => {
    await gw.close();
    await azure.close();
  });

  test('a chat completion goes to the deployment the target names, with the api-version and api-key', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-caller', maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0]!.message.content, 'from Azure');
    const sent = azure.received.at(-1)!;
    assert.equal(sent.url, '/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-01-01-preview');
    assert.equal(sent.headers['api-key'], 'azure-key');
    assert.equal(sent.headers.authorization, undefined);
  });

  test('an Anthropic message is translated and sent to the deployment (default api-version); the caller\'s key stays home', async () => {
    const client = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-caller', maxRetries: 0 });
    const message = await client.messages.create({ model: 'pass', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'from Azure' }]);
    const sent = azure.received.at(-1)!;
    assert.equal(sent.url, '/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21');
    assert.equal(sent.headers.authorization, undefined);
    assert.equal(sent.headers['api-key'], undefined);
  });
});

test('the schema lists every registered provider and the keys each declares', () => {
  const upstream = (gatewaySchema().$defs as any).upstream;
  assert.deepEqual(upstream.properties.provider.enum, PROVIDERS.map((p) => p.name));
  assert.deepEqual(upstream.properties.provider.enum, ['openai', 'openai_compatible', 'azure_openai', 'anthropic', 'mock']);
  for (const p of PROVIDERS) for (const key of Object.keys(p.keys)) assert.ok(upstream.properties[key].description.includes(`provider: ${p.name}`), key);
  assert.deepEqual(upstream.if.properties.provider.enum, ['openai_compatible', 'azure_openai'], 'url is required where there is no public default');
});

test('a library provider factory still plugs in by name', async () => {
  const gw = await startGateway(
    `
version: 1
logging: { level: silent }
upstreams: { mine: { provider: openai, url: http://127.0.0.1:9 } }
routers: { r: { targets: [{ upstream: mine }] } }
`,
    {
      providers: {
        openai: (_config, deps) => ({
          upstream: deps.name,
          async send() {
            const { Readable } = await import('node:stream');
            return { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from('{"custom":true}')]), headersMs: 0 };
          },
          close: async () => {},
        }),
      },
    },
  );
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'r', messages: [] }) });
    assert.deepEqual(await res.json(), { custom: true });
  } finally {
    await gw.close();
  }
});

test('the mixed-provider example serves both SDKs (its offline router)', async () => {
  const gateway = await createGateway('examples/mixed-providers.yaml', { watch: false, env: { OPENAI_API_KEY: 'k', ANTHROPIC_API_KEY: 'k', AZURE_OPENAI_API_KEY: 'k' } });
  const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: false });
  try {
    assert.deepEqual([...gateway.pipeline.routers.keys()], ['general', 'claude', 'offline']);
    const openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: 'offline', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(completion.choices[0]!.message.content, 'This is the mock upstream. You said: hi');
    const anthropic = new Anthropic({ baseURL: url, apiKey: 'x', maxRetries: 0 });
    const message = await anthropic.messages.create({ model: 'offline', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    assert.deepEqual(message.content, [{ type: 'text', text: 'This is the mock upstream. You said: hi' }]);
  } finally {
    await gateway.close({ drainMs: 0 });
  }
});
