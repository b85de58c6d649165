import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { MockUpstream, steps, type Received, type Step } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const ENV = { WEBHOOK_SECRET: SECRET };

/** A receiver step: answers `status` with no body. */
const status = (code: number): Step => (_req: Received, res: ServerResponse) => {
  res.writeHead(code, { 'content-length': 0 });
  res.end();
};

/** The event a delivery carries, after checking its Standard Webhooks signature. */
function verified(received: Received, secret = SECRET): { type: string; timestamp: string; data: any } {
  const headers = {
    'webhook-id': String(received.headers['webhook-id']),
    'webhook-timestamp': String(received.headers['webhook-timestamp']),
    'webhook-signature': String(received.headers['webhook-signature']),
  };
  return new Webhook(secret).verify(received.body.toString('utf8'), headers) as { type: string; timestamp: string; data: any };
}

function baseYaml(upstream: string, receiver: string, extra = '', webhook = ''): string {
  return `
version: 1
logging: { level: silent }
webhooks:
  - { name: ops, url: "${receiver}/hooks", secret: "\${WEBHOOK_SECRET}", backoff: 5ms, max_backoff: 20ms${webhook} }
pricing:
  priced-model: { input: 1000000, output: 1000000 }
upstreams:
  up: { provider: openai, url: ${upstream} }
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
${extra}`;
}

describe('webhooks', () => {
  let upstream: MockUpstream;
  let receiver: MockUpstream;
  const running: Running[] = [];
  const start = async (yaml: string) => {
    const gw = await startGateway(yaml, { env: ENV });
    running.push(gw);
    return gw;
  };

  before(async () => {
    upstream = await MockUpstream.start();
    receiver = await MockUpstream.start(status(204));
  });
  after(async () => {
    await Promise.all(running.map((gw) => gw.close()));
    await upstream.close();
    await receiver.close();
  });

  test('a reload is delivered signed (verified with standardwebhooks), retried under the same id after a 500', async () => {
    receiver.received.length = 0;
    receiver.script(status(500), status(204));
    const yaml = baseYaml(upstream.url, receiver.url);
    const gw = await start(yaml);
    await gw.gateway.reload({ yaml: `${yaml}  second:\n    targets: [{ upstream: up, model: gpt-4o-mini }]\n` });
    await receiver.waitFor(2);
    const [first, second] = receiver.received;
    assert.equal(first!.method, 'POST');
    assert.equal(first!.url, '/hooks');
    assert.equal(first!.headers['content-type'], 'application/json');
    assert.match(String(first!.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.equal(second!.headers['webhook-id'], first!.headers['webhook-id'], 'a retry keeps the webhook-id');
    assert.match(String(first!.headers['webhook-id']), /^msg_/);
    const event = verified(second!);
    assert.equal(event.type, 'reload.succeeded');
    assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
    assert.equal(event.data.version, gw.gateway.pipeline.version);
    assert.deepEqual(event.data.changes.routers, { added: ['second'], removed: [], changed: [] });
    assert.deepEqual(event.data.changes.upstreams, { added: [], removed: [], changed: [] });
    assert.throws(() => verified(second!, `whsec_${randomBytes(24).toString('base64')}`), /signature/i, 'another secret does not verify');
    await gw.close(); // waits for the webhook queue to be done with the delivery
    const metrics = (await gw.gateway.metricsText()).body;
    assert.match(metrics, /ai_gateway_webhook_deliveries_total\{webhook="ops",result="retried"\} 1/);
    assert.match(metrics, /ai_gateway_webhook_deliveries_total\{webhook="ops",result="delivered"\} 1/);
    assert.ok(!receiver.received.some((r) => r.body.includes(SECRET)), 'the secret is never sent');
  });

  test('a failed reload sends reload.failed naming the error; the running version stays', async () => {
    receiver.received.length = 0;
    const gw = await start(baseYaml(upstream.url, receiver.url, '', ', events: [reload.failed]'));
    const running = gw.gateway.pipeline.version;
    await assert.rejects(gw.gateway.reload({ yaml: baseYaml(upstream.url, receiver.url, '    strategy: fastest\n', ', events: [reload.failed]') }));
    await receiver.waitFor(1);
    const event = verified(receiver.received[0]!);
    assert.equal(event.type, 'reload.failed');
    assert.equal(event.data.running, running);
    assert.equal(event.data.errors.length, 1);
    assert.match(event.data.errors[0], /^routers\.main\.strategy: /);
  });

  test('a 4xx from the receiver is not retried', async () => {
    receiver.received.length = 0;
    receiver.script(status(400));
    const yaml = baseYaml(upstream.url, receiver.url, '', ', events: [reload.succeeded]');
    const gw = await start(yaml);
    await gw.gateway.reload({ yaml: `${yaml}  other:\n    targets: [{ upstream: up }]\n` });
    await receiver.waitFor(1);
    await gw.gateway.reload({ yaml: `${yaml}  third:\n    targets: [{ upstream: up }]\n` });
    await receiver.waitFor(2);
    assert.deepEqual(verified(receiver.received[1]!).data.changes.routers.added, ['third'], 'the next event, not a retry of the refused one');
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, /ai_gateway_webhook_deliveries_total\{webhook="ops",result="failed"\} 1/);
  });

  test('budget.threshold once per crossed threshold, by the charge that crosses it', async () => {
    receiver.received.length = 0;
    const gw = await start(
      baseYaml(upstream.url, receiver.url, '    features:\n      budget: { usd: 10, period: day, thresholds: [0.5, 0.8, 1] }\n', ', events: [budget.threshold]'),
    );
    const chat = () =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'priced-model', messages: [{ role: 'user', content: 'hi' }] }),
      });
    assert.equal((await chat()).status, 200); // $8: crosses 0.5 and 0.8
    await receiver.waitFor(2);
    assert.equal((await chat()).status, 200); // $16: crosses 1
    await receiver.waitFor(3);
    const events = receiver.received.map((r) => verified(r));
    assert.deepEqual(events.map((e) => [e.type, e.data.threshold, e.data.spend_usd]), [
      ['budget.threshold', 0.5, 8],
      ['budget.threshold', 0.8, 8],
      ['budget.threshold', 1, 16],
    ]);
    assert.equal(events[0]!.data.router, 'main');
    assert.equal(events[0]!.data.limit_usd, 10);
    assert.equal(events[0]!.data.spender, 'main');
  });

  test('circuit.opened when health_check ejects a target, circuit.closed when it is back', async () => {
    receiver.received.length = 0;
    const flaky = await MockUpstream.start();
    try {
      const gw = await start(`
version: 1
logging: { level: silent }
webhooks:
  - { url: "${receiver.url}/hooks", secret: "\${WEBHOOK_SECRET}", events: [circuit.opened, circuit.closed] }
upstreams:
  flaky: { provider: openai, url: ${flaky.url} }
default_router: main
routers:
  main:
    targets: [{ upstream: flaky, model: m1 }]
    features:
      health_check: { failures: 1, window: 10s, cooldown: 1ms }
`);
      const chat = () =>
        fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
        });
      flaky.script(steps.json(500, { error: { message: 'boom' } }));
      assert.equal((await chat()).status, 500);
      await receiver.waitFor(1);
      assert.equal((await chat()).status, 200); // the half-open test request succeeds
      await receiver.waitFor(2);
      const [opened, closed] = receiver.received.map((r) => verified(r));
      assert.equal(opened!.type, 'circuit.opened');
      assert.deepEqual(opened!.data, { router: 'main', upstream: 'flaky', model: 'm1', cooldown_ms: 1 });
      assert.equal(closed!.type, 'circuit.closed');
      assert.deepEqual(closed!.data, { router: 'main', upstream: 'flaky', model: 'm1' });
    } finally {
      await flaky.close();
    }
  });

  test('a full queue drops new events and counts them; closing the gateway ends delivery', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const hold = await MockUpstream.start(async (_req, res) => {
      await held;
      status(204)(_req, res);
    });
    try {
      const yaml = `
version: 1
logging: { level: silent }
webhooks:
  - { name: slow, url: "${hold.url}/", secret: "\${WEBHOOK_SECRET}", max_queue: 1, events: [reload.succeeded] }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
routers:
  main:
    targets: [{ upstream: up }]
`;
      const gw = await startGateway(yaml, { env: ENV });
      await gw.gateway.reload({ yaml: `${yaml}  b:\n    targets: [{ upstream: up }]\n` });
      await hold.waitFor(1);
      await gw.gateway.reload({ yaml: `${yaml}  c:\n    targets: [{ upstream: up }]\n` });
      await gw.gateway.reload({ yaml: `${yaml}  d:\n    targets: [{ upstream: up }]\n` });
      const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
      assert.match(metrics, /ai_gateway_webhook_deliveries_total\{webhook="slow",result="dropped"\} 2/);
      release();
      await gw.close();
      assert.equal(hold.received.length, 1);
    } finally {
      release();
      await hold.close();
    }
  });
});
