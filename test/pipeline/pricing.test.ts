import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pricing } from '../../src/pricing.js';
import { createGateway } from '../../src/index.js';

test('prices: exact names, dated names by their longest prefix, config overrides, unknown models', () => {
  const pricing = new Pricing({ 'gpt-4o-mini': { input: 1, output: 2 }, 'my-model': { input: 3, output: 4 } });
  assert.deepEqual(pricing.priceOf('gpt-4o'), { input: 2.5, output: 10, cached_input: 1.25 });
  assert.deepEqual(pricing.priceOf('gpt-4o-2024-08-06'), { input: 2.5, output: 10, cached_input: 1.25 });
  assert.deepEqual(pricing.priceOf('gpt-4o-mini-2024-07-18'), { input: 1, output: 2 });
  assert.deepEqual(pricing.priceOf('my-model'), { input: 3, output: 4 });
  assert.equal(pricing.priceOf('gpt-4oo'), null, 'a prefix must be followed by "-"');
  assert.equal(pricing.priceOf('llama-3'), null);
  assert.equal(pricing.cost('my-model', 1_000_000, 500_000), 5);
  assert.equal(pricing.cost('llama-3', 10, 10), null);
});

test('cached input tokens: OpenAI cache reads, Anthropic cache reads and writes, each at its own price', () => {
  const pricing = new Pricing();
  // gpt-4o: 1M prompt tokens of which 400k cached → 600k × 2.5 + 400k × 1.25.
  assert.equal(pricing.cost('gpt-4o', 1_000_000, 0, 400_000), 2);
  // claude-sonnet-4-5: 1M input = 200k plain + 300k read (0.3) + 500k written (3.75), and 100k output (15).
  assert.equal(pricing.cost('claude-sonnet-4-5-20250929', 1_000_000, 100_000, 300_000, 500_000), 4.065);
  // No cached price: cached tokens cost what input does.
  assert.equal(new Pricing({ m: { input: 1, output: 0 } }).cost('m', 1_000_000, 0, 500_000, 0), 1);
});

test('cached input tokens at the cached rate, cache writes at the write rate; without them, the input rate', () => {
  const pricing = new Pricing({ c: { input: 10, output: 20, cached_input: 1, cache_write: 12.5 }, plain: { input: 10, output: 20 } });
  // 1M prompt tokens: 600k cached, 100k written, 300k fresh; 100k output.
  assert.equal(pricing.cost('c', 1_000_000, 100_000, 600_000, 100_000), 0.6 + 1.25 + 3 + 2);
  assert.equal(pricing.cost('plain', 1_000_000, 100_000, 600_000, 100_000), 10 + 2);
  assert.equal(pricing.cost('c', 100, 0, 500, 0), 100 / 1_000_000, 'cached tokens never exceed the prompt');
  assert.equal(pricing.priceOf('claude-sonnet-4-5-20250929')!.cached_input, 0.3);
});

test('the config’s pricing table reaches the compiled pipeline', async () => {
  const gateway = await createGateway({
    yaml: `version: 1
upstreams: { m: { provider: mock } }
routers: { r: { targets: [{ upstream: m }] } }
pricing: { mock-1: { input: 1, output: 1 } }
`,
  });
  assert.equal(gateway.pipeline.pricing.cost('mock-1', 500_000, 500_000), 1);
  await gateway.close({ drainMs: 0 });
});
