import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { steps } from '../support/mock-upstream.js';
import { chat, messages, metric, setup, type Setup } from './support.js';

describe('semantic_classifier (local embedder)', () => {
  let s: Setup;
  before(async () => {
    s = await setup(
      `      - semantic_classifier:
          embedder: local
          threshold: 0.5
          classes:
            billing:
              examples: ["I was charged twice on my invoice", "refund my last payment", "update the credit card on my billing account"]
              router: billing
            outage:
              examples: ["the service is down and returns errors", "the api times out for every request"]
              model: ops-model
            greeting:
              examples: ["hello there, good morning"]`,
      { routers: `  billing:\n    targets: [{ upstream: up, model: billing-model }]\n    interceptors: []` },
    );
  });
  after(() => s.close());

  test('a prompt like a class\'s examples takes its route: another router, or another model', async () => {
    s.upstream.fallback = steps.chat();
    const billed = await chat(s.gw.url, 'why was my invoice charged twice?', {}, { 'x-request-id': 'sc-1' });
    assert.equal(billed.status, 200);
    assert.equal(billed.headers.get('x-sidegate-class'), 'billing');
    assert.equal(s.upstream.received.at(-1)!.json().model, 'billing-model', 'sent by the billing router');
    const line = await s.log.of('sc-1');
    assert.equal(line.class, 'billing');
    assert.equal(line.rerouted_from, 'main');
    assert.equal(line.router, 'billing');

    const down = await chat(s.gw.url, 'every api request times out');
    assert.equal(down.headers.get('x-sidegate-class'), 'outage');
    assert.equal(s.upstream.received.at(-1)!.json().model, 'ops-model');
    assert.equal(await metric(s.gw.adminUrl, 'ai_gateway_interceptor_actions_total', { router: 'main', interceptor: 'semantic_classifier', action: 'route', category: 'outage' }), 1);
  });

  test('a class without a route only tags; an unlike prompt passes unclassified', async () => {
    const hi = await messages(s.gw.url, 'hello, good morning to you');
    assert.equal(hi.headers.get('x-sidegate-class'), 'greeting');
    assert.equal(s.upstream.received.at(-1)!.json().model, 'claude-haiku-4-5');
    const other = await chat(s.gw.url, 'translate this poem into French');
    assert.equal(other.headers.get('x-sidegate-class'), null);
    assert.equal(s.upstream.received.at(-1)!.json().model, 'gpt-4o');
  });
});
