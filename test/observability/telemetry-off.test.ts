// Its own file, so its process has loaded no telemetry before it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { MockUpstream } from '../support/mock-upstream.js';
import { singleUpstreamYaml, startGateway } from '../support/gateway.js';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

test('without telemetry nothing is loaded or traced, and the caller\'s traceparent passes through unchanged', async () => {
  const upstream = await MockUpstream.start();
  const gw = await startGateway(singleUpstreamYaml(upstream));
  try {
    assert.equal(gw.gateway.pipeline.telemetry, null);
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT, tracestate: 'vendor=1' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.equal(upstream.received[0]!.headers.traceparent, TRACEPARENT);
    assert.equal(upstream.received[0]!.headers.tracestate, 'vendor=1');
    // prom-client itself requires @opentelemetry/api (for exemplars); the SDK and exporters are ours to load.
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((path) => /@opentelemetry\/(?!api\/)/.test(path));
    assert.deepEqual(loaded, [], 'no OpenTelemetry SDK or exporter was loaded');
  } finally {
    await gw.close();
    await upstream.close();
  }
});
