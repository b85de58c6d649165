import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import OpenAI from 'openai';
import pino from 'pino';
import { MockUpstream, chatCompletion, chunk, steps, type Step } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;
const SERVER = 2;
const CLIENT = 3;

/** A pino logger whose lines land in `lines`, parsed. */
function capture(): { logger: pino.Logger; lines: any[] } {
  const lines: any[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** Streams two content chunks, and a usage-only event only when the request asks for it (as OpenAI does). */
const streamWithUsage: Step = (req, res) => {
  const body = req.json();
  const events: unknown[] = [chunk(body.model, 'Hel'), chunk(body.model, 'lo', 'stop')];
  if (body.stream_options?.include_usage === true) {
    events.push({ ...chunk(body.model, null), choices: [], usage: { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 } });
  }
  return steps.sse(events)(req, res);
};

function yaml(receiver: OtlpReceiver, protocol = 'http/json'): string {
  return `
version: 1
logging: { level: info }
telemetry:
  otlp: { url: "${receiver.url}", protocol: ${protocol}, headers: { x-otlp-token: "\${OTLP_TOKEN}" } }
  service_name: sidegate-test
upstreams:
  up: { provider: openai, url: UPSTREAM }
default_router: main
routers:
  main:
    targets: [{ upstream: up, model: gpt-4o-mini-2024-07-18 }]
    features:
      retry: { attempts: 2, backoff: 1ms, max_backoff: 2ms }
`;
}

describe('OpenTelemetry over OTLP/HTTP JSON', () => {
  let upstream: MockUpstream;
  let receiver: OtlpReceiver;
  let gw: Running;
  let lines: any[];

  before(async () => {
    upstream = await MockUpstream.start();
    receiver = await OtlpReceiver.start();
    const captured = capture();
    lines = captured.lines;
    gw = await startGateway(yaml(receiver).replace('UPSTREAM', upstream.url), { logger: captured.logger, env: { OTLP_TOKEN: 'otlp-secret' } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await receiver.close();
  });

  test('a span per request and per try, the caller\'s trace continued upstream, GenAI attributes and metrics', async () => {
    upstream.script(steps.json(500, { error: { message: 'boom' } }), (req, res) => steps.json(200, chatCompletion(req.json().model, 'hi'))(req, res));
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0, defaultHeaders: { traceparent: TRACEPARENT } });
    const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(answer.choices[0]!.message.content, 'hi');

    const sent = upstream.received.slice(-2).map((r) => String(r.headers.traceparent));
    for (const tp of sent) assert.match(tp, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`), 'each try continues the caller\'s trace');
    const trySpanIds = sent.map((tp) => tp.split('-')[2]);
    assert.notEqual(trySpanIds[0], trySpanIds[1]);
    assert.ok(!trySpanIds.includes(CALLER_SPAN), 'upstream sees the try\'s span, not the caller\'s');

    await gw.gateway.close({ drainMs: 1000 }); // flushes spans and metrics
    const spans = receiver.spans().filter((s) => s.traceId === TRACE_ID);
    const server = spans.filter((s) => s.kind === SERVER);
    assert.equal(server.length, 1);
    const root = server[0]!;
    assert.equal(root.parentSpanId, CALLER_SPAN);
    assert.equal(root.name, 'chat gpt-4o-mini');
    assert.deepEqual(
      {
        op: root.attributes['gen_ai.operation.name'],
        provider: root.attributes['gen_ai.provider.name'],
        requestModel: root.attributes['gen_ai.request.model'],
        responseModel: root.attributes['gen_ai.response.model'],
        input: root.attributes['gen_ai.usage.input_tokens'],
        output: root.attributes['gen_ai.usage.output_tokens'],
        finish: root.attributes['gen_ai.response.finish_reasons'],
        id: root.attributes['gen_ai.response.id'],
        router: root.attributes['sidegate.router'],
        target: root.attributes['sidegate.target'],
        attempts: root.attributes['sidegate.attempts'],
        status: root.attributes['http.response.status_code'],
        server: root.attributes['server.address'],
      },
      {
        op: 'chat',
        provider: 'openai',
        requestModel: 'gpt-4o-mini',
        responseModel: 'gpt-4o-mini-2024-07-18',
        input: 5,
        output: 3,
        finish: ['stop'],
        id: 'chatcmpl-upstream',
        router: 'main',
        target: 'up',
        attempts: 2,
        status: 200,
        server: '127.0.0.1',
      },
    );
    const tries = spans.filter((s) => s.kind === CLIENT);
    assert.deepEqual(tries.map((s) => s.parentSpanId), [root.spanId, root.spanId]);
    assert.deepEqual(new Set(tries.map((s) => s.spanId)), new Set(trySpanIds), 'the exported try spans are the ones named upstream');
    const failed = tries.find((s) => s.attributes['http.response.status_code'] === 500)!;
    const answered = tries.find((s) => s.attributes['http.response.status_code'] === 200)!;
    assert.equal(failed.attributes['error.type'], '500');
    assert.equal(failed.attributes['sidegate.try'], 1);
    assert.equal(answered.attributes['sidegate.try'], 2);
    assert.equal(answered.name, 'chat gpt-4o-mini-2024-07-18');
    assert.equal(answered.attributes['gen_ai.request.model'], 'gpt-4o-mini-2024-07-18');
    assert.equal(answered.attributes['gen_ai.usage.output_tokens'], 3);

    const access = lines.find((l) => l.msg === 'request' && l.trace_id === TRACE_ID);
    assert.ok(access, 'the access line carries the trace id');
    assert.equal(access.status, 200);

    const metrics = receiver.metrics();
    const usage = metrics.get('gen_ai.client.token.usage')![0];
    assert.equal(usage.unit, '{token}');
    const points = usage.histogram.dataPoints.map((p: any) => ({ type: attr(p, 'gen_ai.token.type'), sum: p.sum, count: Number(p.count), model: attr(p, 'gen_ai.request.model') }));
    assert.deepEqual(points.sort((a: any, b: any) => a.type.localeCompare(b.type)), [
      { type: 'input', sum: 5, count: 1, model: 'gpt-4o-mini' },
      { type: 'output', sum: 3, count: 1, model: 'gpt-4o-mini' },
    ]);
    const duration = metrics.get('gen_ai.client.operation.duration')![0];
    assert.equal(duration.unit, 's');
    assert.equal(Number(duration.histogram.dataPoints[0].count), 1);
    assert.equal(attr(duration.histogram.dataPoints[0], 'gen_ai.operation.name'), 'chat');

    const resource = receiver.exports.find((e) => e.path === '/v1/traces')!.json().resourceSpans[0].resource.attributes;
    assert.ok(resource.some((a: any) => a.key === 'service.name' && a.value.stringValue === 'sidegate-test'));
    const config = JSON.stringify(gw.gateway.redactedConfig());
    assert.ok(!config.includes('otlp-secret'), 'OTLP header values are redacted in /config');
    assert.ok(!lines.some((l) => JSON.stringify(l).includes('otlp-secret')), 'nor logged');
  });
});

function attr(point: any, key: string): unknown {
  const found = (point.attributes ?? []).find((a: any) => a.key === key);
  return found?.value.stringValue ?? found?.value.intValue;
}

describe('OpenTelemetry, streams and new traces', () => {
  let upstream: MockUpstream;
  let receiver: OtlpReceiver;
  let gw: Running;
  let lines: any[];

  before(async () => {
    upstream = await MockUpstream.start(streamWithUsage);
    receiver = await OtlpReceiver.start();
    const captured = capture();
    lines = captured.lines;
    gw = await startGateway(yaml(receiver).replace('UPSTREAM', upstream.url), { logger: captured.logger, env: { OTLP_TOKEN: 't' } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await receiver.close();
  });

  test('a stream\'s usage is asked for upstream, counted, and hidden from a client that did not ask', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Hello');
    assert.ok(chunks.every((c) => c.choices.length === 1 && c.usage === undefined), 'no usage event for this client');
    assert.deepEqual(upstream.received.at(-1)!.json().stream_options, { include_usage: true });

    const withUsage = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi' }],
    });
    const seen = [];
    for await (const c of withUsage) seen.push(c);
    assert.deepEqual(seen.at(-1)!.usage, { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 }, 'a client that asked gets it');

    await gw.gateway.close({ drainMs: 1000 });
    const access = lines.filter((l) => l.msg === 'request');
    assert.deepEqual(access.map((l) => [l.stream, l.prompt_tokens, l.completion_tokens]), [[true, 7, 2], [true, 7, 2]]);
    const roots = receiver.spans().filter((s) => s.kind === SERVER);
    assert.equal(roots.length, 2);
    for (const root of roots) {
      assert.equal(root.parentSpanId ?? '', '', 'no caller trace: a new trace starts here');
      assert.equal(root.attributes['gen_ai.usage.input_tokens'], 7);
      assert.equal(root.attributes['sidegate.stream'], true);
      assert.deepEqual(root.attributes['gen_ai.response.finish_reasons'], ['stop']);
    }
    const sentTrace = String(upstream.received[0]!.headers.traceparent).split('-')[1];
    assert.ok(roots.some((r) => r.traceId === sentTrace), 'upstream was told the new trace');
    assert.deepEqual(new Set(access.map((l) => l.trace_id)), new Set(roots.map((r) => r.traceId)));
  });
});

describe('OpenTelemetry over OTLP/HTTP protobuf (the default)', () => {
  test('spans and metrics are exported as protobuf', async () => {
    const upstream = await MockUpstream.start();
    const receiver = await OtlpReceiver.start();
    try {
      const gw = await startGateway(yaml(receiver, 'http/protobuf').replace('UPSTREAM', upstream.url), { logger: capture().logger, env: { OTLP_TOKEN: 'tok' } });
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      await gw.close();
      const traces = receiver.exports.filter((e) => e.path === '/v1/traces');
      assert.ok(traces.length >= 1);
      assert.equal(traces[0]!.contentType, 'application/x-protobuf');
      const body = Buffer.concat(traces.map((e) => e.body));
      assert.ok(body.includes(Buffer.from(TRACE_ID, 'hex')), 'the caller\'s trace id, as protobuf bytes');
      assert.ok(body.includes('gen_ai.request.model') && body.includes('gpt-4o-mini'));
      const metrics = receiver.exports.filter((e) => e.path === '/v1/metrics');
      assert.equal(metrics[0]!.contentType, 'application/x-protobuf');
      assert.ok(Buffer.concat(metrics.map((e) => e.body)).includes('gen_ai.client.token.usage'));
    } finally {
      await upstream.close();
      await receiver.close();
    }
  });
});
