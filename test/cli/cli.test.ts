import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { MockUpstream, chunk, steps } from '../support/mock-upstream.js';
import { runCliToEnd, startCli, type CliProcess } from '../support/cli.js';

const BAD = `version: 1
upstreams:
  openai: { provider: openai, url: https://api.openai.com }
routers:
  chat:
    targets:
      - upstream: openai
      - upstream: opnai
`;

function gatewayYaml(upstream: MockUpstream, model: string): string {
  return `version: 1
server: { listen: "127.0.0.1:0", admin: "127.0.0.1:0", drain: 5s }
logging: { level: info }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
default_router: main
routers:
  main: { targets: [{ upstream: up, model: ${model} }] }
`;
}

describe('the sidegate command', () => {
  let dir: string;
  let upstream: MockUpstream;
  let cli: CliProcess | null = null;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-cli-'));
    upstream = await MockUpstream.start();
  });
  afterEach(() => {
    cli?.kill();
    cli = null;
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await upstream.close();
  });

  test('validate: exit 1, every error with YAML path and line:column, and a suggestion', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, BAD);
    const { code, stderr } = await runCliToEnd(['validate', file]);
    assert.equal(code, 1);
    assert.match(stderr, /routers\.chat\.targets\[1\]\.upstream: unknown upstream "opnai" \(bad\.yaml:8:19\), did you mean "openai"\?/);
  });

  test('validate: exit 0 on the shipped example', async () => {
    const { code, stdout } = await runCliToEnd(['validate', 'gateway.example.yaml']);
    assert.equal(code, 0, stdout);
    assert.match(stdout, /gateway\.example\.yaml: ok/);
  });

  test('explain: each router with its targets and stages', async () => {
    const { code, stdout } = await runCliToEnd(['explain', 'gateway.example.yaml']);
    assert.equal(code, 0);
    assert.match(stdout, /router general/);
    assert.match(stdout, /router demo/);
    assert.match(stdout, /mock \(mock, in process/);
  });

  test('start: a port already taken is exit 1, naming the config key and the address', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const file = join(dir, 'taken.yaml');
      writeFileSync(file, gatewayYaml(upstream, 'm').replace('admin: "127.0.0.1:0"', `admin: "127.0.0.1:${port}"`));
      const { code, stderr } = await runCliToEnd(['start', '-c', file, '--no-watch']);
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`cannot listen on server\\.admin 127\\.0\\.0\\.1:${port}: the address is already in use`));
    } finally {
      taken.close();
    }
  });

  test('SIGHUP reloads the file (watching off)', async () => {
    const file = join(dir, 'hup.yaml');
    writeFileSync(file, gatewayYaml(upstream, 'model-v1'));
    const started = await startCli(file, ['--no-watch']);
    cli = started.cli;
    const ask = async () => {
      const res = await fetch(`${started.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'm', messages: [] }) });
      await res.arrayBuffer();
      return upstream.received.at(-1)!.json().model;
    };
    assert.equal(await ask(), 'model-v1');
    writeFileSync(file, gatewayYaml(upstream, 'model-v2'));
    cli.child.kill('SIGHUP');
    await cli.waitForLog((l) => l.msg === 'config reloaded');
    assert.equal(await ask(), 'model-v2');
  });

  test('SIGTERM: readyz turns 503, new connections are refused, the live stream finishes, exit 0', async () => {
    const file = join(dir, 'drain.yaml');
    writeFileSync(file, gatewayYaml(upstream, 'm'));
    const started = await startCli(file);
    cli = started.cli;
    assert.equal((await fetch(`${started.adminUrl}/readyz`)).status, 200);

    upstream.script(steps.sse(Array.from({ length: 20 }, (_, i) => chunk('m', `${i} `)), 25));
    const res = await fetch(`${started.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [] }),
    });
    const reader = res.body!.getReader();
    await reader.read();

    cli.child.kill('SIGTERM');
    await cli.waitForLog((l) => l.msg === 'draining');
    const ready = await fetch(`${started.adminUrl}/readyz`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { status: 'draining' });
    await assert.rejects(fetch(`${started.url}/v1/models`), 'new connections are refused');

    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += Buffer.from(r.value).toString();
    assert.match(rest, /"19 "/);
    assert.match(rest, /data: \[DONE\]\n\n$/);
    assert.equal(await cli.exited, 0);
  });
});
