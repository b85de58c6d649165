import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { MockUpstream } from '../support/mock-upstream.js';
import { runCliToEnd } from '../support/cli.js';
import { createGateway } from '../../src/index.js';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

test('`sidegate keys new` prints a key once and a line that works as pasted', async () => {
  const { code, stdout, stderr } = await runCliToEnd(['keys', 'new', 'checkout', '--team', 'payments']);
  assert.equal(code, 0, stderr);
  const [key, line, ...rest] = stdout.split('\n');
  assert.deepEqual(rest, ['']);
  assert.match(key!, /^sk-sg-[A-Za-z0-9_-]{43}$/);
  assert.match(line!, /^- \{ name: checkout, sha256: "[0-9a-f]{64}", team: payments \}$/);
  assert.match(stderr, /shown once/);

  const upstream = await MockUpstream.start();
  const dir = mkdtempSync(join(tmpdir(), 'sidegate-keys-new-'));
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `version: 1
logging: { level: silent }
upstreams:
  up: { provider: openai, url: ${upstream.url}, auth: { bearer: sk-provider } }
auth:
  keys:
    ${line}
teams:
  payments: {}
default_router: main
routers:
  main: { targets: [{ upstream: up }] }
`,
  );
  const gateway = await createGateway(file, { watch: false });
  const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: false });
  try {
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: key!, maxRetries: 0 });
    const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(answer.choices[0]!.message.content, 'hello from upstream');
    const again = await runCliToEnd(['keys', 'new', 'checkout']);
    assert.notEqual(again.stdout.split('\n')[0], key, 'every key is new');
    assert.match(again.stdout.split('\n')[1]!, /^- \{ name: checkout, sha256: "[0-9a-f]{64}" \}$/);
  } finally {
    await gateway.close({ drainMs: 0 });
    await upstream.close();
  }
});

test('`sidegate keys hash` hashes the key on stdin; bad names are refused', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'keys', 'hash'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end('hello\n');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0);
  assert.equal(out, '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n', 'sha256("hello"), the newline dropped');

  const bad = await runCliToEnd(['keys', 'new', 'no spaces']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"no spaces" is not a valid key name/);
  assert.equal(bad.stdout, '');
});
