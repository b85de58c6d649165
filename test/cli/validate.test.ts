import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCliToEnd } from '../support/cli.js';
import { loadConfigText } from '../../src/config/load.js';

const EXAMPLES = ['gateway.example.yaml', ...readdirSync('examples').filter((f) => /\.ya?ml$/.test(f)).map((f) => `examples/${f}`)];

const BASE = `version: 1
upstreams:
  openai: { provider: openai, url: https://api.openai.com, auth: { bearer: "\${OPENAI_API_KEY}" } }
  local: { provider: openai_compatible, url: http://127.0.0.1:8000 }
routers:
`;

/** One config per warning, and the path and message each must produce. */
const WARNINGS: [string, string, string, RegExp][] = [
  [
    'unreachable',
    `${BASE}  chat:\n    targets: [{ upstream: openai }, { upstream: local }]\n`,
    'routers.chat.targets[1]',
    /no request reaches this target: strategy failover always tries targets\[0\] first/,
  ],
  [
    'weight-zero',
    `${BASE}  chat:\n    strategy: weighted\n    targets: [{ upstream: openai, weight: 1 }, { upstream: local, weight: 0 }]\n`,
    'routers.chat.targets[1]',
    /never picks a target of weight 0 first/,
  ],
  [
    'unpriced',
    `${BASE}  chat:\n    targets: [{ upstream: local, model: my-llama }]\n    features: { budget: { usd: 5, period: day } }\n`,
    'routers.chat.targets[0].model',
    /model "my-llama" has no price in the pricing table, so budget cannot count its cost/,
  ],
  [
    'unsafe-retry',
    `${BASE}  chat:\n    targets: [{ upstream: openai }]\ndefaults:\n  features:\n    retry: { on: [429, 400, 503] }\n`,
    'defaults.features.retry.on[1]',
    /retrying 400 does not help/,
  ],
  [
    'shared-cache',
    `${BASE}  chat:\n    targets: [{ upstream: local }]\n    features: { cache: { key_headers: [x-team] } }\n`,
    'routers.chat.features.cache.key_headers',
    /cache of router "chat" is not keyed by authorization while upstream "local" gets the caller's own credential \(auth: passthrough\)/,
  ],
  [
    'open-admin',
    `server: { admin: 0.0.0.0:9090 }\n${BASE}  chat:\n    targets: [{ upstream: openai }]\n`,
    'server.admin',
    /the admin listener .* listens on 0\.0\.0\.0:9090, beyond this host, with no token/,
  ],
];

describe('sidegate validate', () => {
  let dir: string;
  const file = (name: string, text: string): string => {
    const path = join(dir, `${name}.yaml`);
    writeFileSync(path, text);
    return path;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sidegate-validate-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--no-env: every shipped example is valid, its ${VAR} placeholders listed', async () => {
    const { code, stdout, stderr } = await runCliToEnd(['validate', '--no-env', '--format', 'json', ...EXAMPLES]);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout);
    assert.equal(report.valid, true);
    assert.deepEqual(report.files.map((f: { file: string }) => f.file), EXAMPLES);
    assert.deepEqual(report.findings.filter((f: { severity: string }) => f.severity === 'error'), []);
    const keys = report.placeholders.filter((p: { name: string }) => p.name === 'OPENAI_API_KEY');
    assert.ok(keys.length >= 3, 'the examples that inject a key list it');
    assert.deepEqual(
      report.placeholders.find((p: { file: string }) => p.file === 'examples/injected-auth.yaml'),
      { file: 'examples/injected-auth.yaml', name: 'OPENAI_API_KEY', path: 'upstreams.openai.auth.bearer', line: 13, column: 21 },
    );
  });

  test('--no-env reads no variable: a default is checked, a placeholder is not an error, anything else still is', async () => {
    const good = file('placeholders', `${BASE.replace('http://127.0.0.1:8000', '"http://${LOCAL_HOST}:8000"')}  chat:\n    targets: [{ upstream: openai }]\nserver: { drain: "\${DRAIN}", max_body: "\${MAX_BODY:-10mb}" }\n`);
    const bad = file('bad-default', `${BASE}  chat:\n    targets: [{ upstream: openai }]\nserver: { drain: "\${DRAIN:-30 seconds}" }\n`);
    const [ok, invalid, withEnv] = await Promise.all([
      runCliToEnd(['validate', '--no-env', good]),
      runCliToEnd(['validate', '--no-env', bad]),
      runCliToEnd(['validate', good]),
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /placeholders\.yaml: ok \(1 router, 2 upstreams\)/);
    assert.match(ok.stdout, /\$\{LOCAL_HOST\} at upstreams\.local\.url \(placeholders\.yaml:4:/);
    assert.match(ok.stdout, /\$\{DRAIN\} at server\.drain/);
    assert.doesNotMatch(ok.stdout, /MAX_BODY/);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /server\.drain: "30 seconds" is not a valid duration, e\.g\. 250ms, 30s, 5m \(bad-default\.yaml:8:18\)/);
    assert.equal(withEnv.code, 1, 'without --no-env a missing variable is an error');
    assert.match(withEnv.stderr, /environment variable "OPENAI_API_KEY" is not set/);
  });

  test('every warning, with its path and line; exit 0, and 1 with --strict', async () => {
    const files = WARNINGS.map(([name, text]) => file(name, text));
    const [plain, strict] = await Promise.all([
      runCliToEnd(['validate', '--no-env', '--format', 'json', ...files]),
      runCliToEnd(['validate', '--no-env', '--strict', '--format', 'json', ...files]),
    ]);
    assert.equal(plain.code, 0, plain.stderr);
    const findings = JSON.parse(plain.stdout).findings as { file: string; path: string; message: string; severity: string; line: number }[];
    for (const [i, [name, , path, message]] of WARNINGS.entries()) {
      const mine = findings.filter((f) => f.file === files[i]);
      assert.equal(mine.length, 1, `${name}: ${JSON.stringify(mine)}`);
      assert.equal(mine[0]!.path, path, name);
      assert.match(mine[0]!.message, message, name);
      assert.equal(mine[0]!.severity, 'warning');
      assert.equal(typeof mine[0]!.line, 'number');
    }
    assert.equal(strict.code, 1);
    const report = JSON.parse(strict.stdout);
    assert.equal(report.valid, false);
    assert.ok(report.findings.every((f: { severity: string }) => f.severity === 'error'));
  });

  test('no warning where nothing is wrong', async () => {
    const fine = file(
      'fine',
      `server: { admin: 127.0.0.1:9090 }\n${BASE}  chat:\n    targets: [{ upstream: openai, model: gpt-4o-mini }, { upstream: local, model: free }]\n` +
        `    features: { fallback: {}, budget: { usd: 1, period: day }, cache: { key_headers: [authorization, x-team] }, retry: { on: [429, 408, 503] } }\n` +
        `pricing: { free: { input: 0, output: 0 } }\n`,
    );
    const { code, stdout } = await runCliToEnd(['validate', '--no-env', '--format', 'json', fine]);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout).findings, []);
  });

  test('--format github: workflow annotations for errors, warnings and placeholders', async () => {
    const broken = file('broken', `${BASE}  chat:\n    targets: [{ upstream: opnai }]\n`);
    const warned = file('warned', WARNINGS[0]![1]);
    const { code, stdout } = await runCliToEnd(['validate', '--no-env', '--format', 'github', broken, warned]);
    assert.equal(code, 1);
    const annotations = stdout
      .split('\n')
      .filter((l) => l.startsWith('::'))
      .map((l): Record<string, string> => {
        const m = /^::(error|warning|notice) ([^:]*)::(.*)$/.exec(l)!;
        assert.ok(m, l);
        const props: Record<string, string> = Object.fromEntries(m[2]!.split(',').map((p) => p.split('=') as [string, string]));
        return { kind: m[1]!, ...props, message: m[3]! };
      });
    assert.deepEqual(annotations[0], {
      kind: 'error',
      file: broken,
      line: '7',
      col: '27',
      title: 'sidegate validate%3A routers.chat.targets[0].upstream',
      message: 'routers.chat.targets[0].upstream: unknown upstream "opnai", did you mean "openai"?',
    });
    assert.ok(annotations.some((a) => a.kind === 'warning' && a.file === warned && a.line === '7'));
    assert.equal(annotations.filter((a) => a.kind === 'notice' && /OPENAI_API_KEY/.test(a.message!)).length, 1, 'the valid file lists its placeholder');
  });

  test('usage errors exit 2', async () => {
    const [none, format, option] = await Promise.all([
      runCliToEnd(['validate']),
      runCliToEnd(['validate', '--format', 'xml', 'gateway.example.yaml']),
      runCliToEnd(['validate', '--frobnicate', 'gateway.example.yaml']),
    ]);
    assert.equal(none.code, 2);
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format must be one of text, json, github/);
    assert.equal(option.code, 2);
  });

  test('a placeholder is kept only when asked for, and redaction still applies', () => {
    const text = `${BASE}  chat:\n    targets: [{ upstream: openai }]\n`;
    assert.throws(() => loadConfigText(text, 'x.yaml', {}), /OPENAI_API_KEY/);
    const loaded = loadConfigText(text, 'x.yaml', {}, { placeholders: true });
    assert.deepEqual(loaded.placeholders, [{ name: 'OPENAI_API_KEY', path: 'upstreams.openai.auth.bearer', pointer: '/upstreams/openai/auth/bearer', line: 3, column: 76 }]);
    assert.equal((loaded.config.upstreams.openai!.auth as { bearer: string }).bearer, '${OPENAI_API_KEY}');
    assert.equal((loaded.redacted as any).upstreams.openai.auth.bearer, '[redacted]');
  });
});
