import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chatCompletion, MockUpstream, steps } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

let slow: MockUpstream;
let fast: MockUpstream;
let gw: Running;

before(async () => {
  slow = await MockUpstream.start();
  fast = await MockUpstream.start();
  gw = await startGateway(`
version: 1
logging: { level: silent }
upstreams:
  fast: { provider: openai, url: ${fast.url} }
  slow: { provider: openai, url: ${slow.url} }
routers:
  bounded:
    targets: [{ upstream: fast, model: gpt-4o }, { upstream: slow, model: gpt-4o-mini }]
    features:
      cost_aware_routing: { max_latency: 50ms }
  cheapest:
    targets: [{ upstream: fast, model: gpt-4o }, { upstream: slow }]
    features:
      cost_aware_routing: {}
`);
});
after(async () => {
  await gw.close();
  await slow.close();
  await fast.close();
});

async function ask(router: string, model = 'anything'): Promise<string | null> {
  const res = await fetch(`${gw.url}/router/${router}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return res.headers.get('x-sidegate-target');
}

test('the cheapest target first; once its latency average is over max_latency, the next cheapest within it', async () => {
  slow.script(steps.delay(120, steps.chat()));
  assert.equal(await ask('bounded'), 'slow', 'gpt-4o-mini is cheaper, and not measured yet');
  assert.equal(await ask('bounded'), 'fast', 'slow averages 120ms+, over 50ms');
  const stats = ((await (await fetch(`${gw.adminUrl}/stats`)).json()) as any).routers.bounded.cost_aware_routing;
  assert.equal(stats.max_latency_ms, 50);
  assert.ok(stats.ttfb_ewma_ms.slow >= 120);
});

test("without max_latency: cheapest by the model each target is sent (a pass-through target prices the caller's model)", async () => {
  slow.script(steps.json(200, chatCompletion('gpt-4o-mini')));
  assert.equal(await ask('cheapest', 'gpt-4o-mini'), 'slow');
  assert.equal(await ask('cheapest', 'gpt-4-turbo'), 'fast', 'gpt-4-turbo costs more than gpt-4o');
  assert.equal(await ask('cheapest', 'unpriced-model'), 'fast', 'an unpriced model goes last');
});
