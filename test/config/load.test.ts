import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, formatIssues, loadConfigFile, loadConfigText, type LoadedConfig } from '../../src/config/load.js';
import { interpolateString } from '../../src/config/interpolate.js';
import { closest, editDistance } from '../../src/config/suggest.js';
import { FEATURES } from '../../src/features/all.js';

/** YAML from lines, so a test reads its line numbers off the array (index + 1). */
const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

const HEAD = ['version: 1', 'upstreams:', '  openai:', '    provider: openai'];
const ROUTERS = ['routers:', '  chat:', '    targets:', '      - upstream: openai'];
/** A valid config with `extra` lines inside the openai upstream (from line 6 on). */
const withUpstream = (...extra: string[]): string => yaml(...HEAD, '    url: https://api.openai.com', ...extra, ...ROUTERS);

const load = (text: string, env: NodeJS.ProcessEnv = {}): LoadedConfig => loadConfigText(text, 'gateway.yaml', env);

/** The formatted issues of a config that must fail. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(text, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.message, formatIssues(error.issues));
    return error.message.split('\n');
  }
  return assert.fail('expected the config to be rejected');
}

/** Assert that a config is rejected with exactly these formatted issues. */
const rejects = (text: string, expected: string[], env: NodeJS.ProcessEnv = {}): void => assert.deepEqual(problems(text, env), expected);

describe('interpolation', () => {
  test('${VAR:-default} uses the default when unset or empty, the variable otherwise', () => {
    const text = yaml(...HEAD, '    url: ${OPENAI_URL:-https://api.openai.com}', ...ROUTERS);
    assert.equal(load(text).config.upstreams.openai!.url, 'https://api.openai.com');
    assert.equal(load(text, { OPENAI_URL: '' }).config.upstreams.openai!.url, 'https://api.openai.com');
    assert.equal(load(text, { OPENAI_URL: 'http://10.0.0.1:8000' }).config.upstreams.openai!.url, 'http://10.0.0.1:8000');
  });

  test('a missing variable without default is an issue naming it at its line:column', () => {
    rejects(yaml(...HEAD, '    url: ${OPENAI_URL}', ...ROUTERS), [
      'upstreams.openai.url: environment variable "OPENAI_URL" is not set (write ${OPENAI_URL:-default} to give a default) (gateway.yaml:5:10)',
    ]);
  });

  test('a whole plain ${...} that looks like a number or boolean gets that type', () => {
    const text = withUpstream('    connections: ${CONN:-64}');
    assert.equal(load(text).config.upstreams.openai!.connections, 64);
    assert.equal(load(text, { CONN: '32' }).config.upstreams.openai!.connections, 32);
    const logging = yaml(...HEAD, '    url: https://api.openai.com', 'logging:', '  access: ${ACCESS:-false}', '  level: ${LEVEL:-warn}', ...ROUTERS);
    assert.deepEqual(load(logging).config.logging, { access: false, level: 'warn' });
    assert.deepEqual(load(logging, { ACCESS: 'TRUE' }).config.logging, { access: true, level: 'warn' });
  });

  test('a quoted ${...} stays a string', () => {
    rejects(withUpstream('    connections: "${CONN:-64}"'), [
      'upstreams.openai.connections: must be an integer (got a string) (gateway.yaml:6:18)',
    ]);
  });

  test('several references per string, $${ escapes, an empty default is an empty string', () => {
    const text = yaml(
      ...HEAD,
      '    url: http://${HOST}:${PORT:-8080}/v1',
      '    proxy: ${HTTPS_PROXY:-}',
      ...ROUTERS,
      '        model: price-$${CENTS}',
      '      - upstream: openai',
      "        model: '$${a}$$b${SUFFIX:-}'",
    );
    const { config } = load(text, { HOST: 'gpu-1' });
    assert.equal(config.upstreams.openai!.url, 'http://gpu-1:8080/v1');
    assert.equal(config.upstreams.openai!.proxy, '');
    assert.deepEqual(config.routers.chat!.targets.map((t) => t.model), ['price-${CENTS}', '${a}$$b']);
  });

  test('map keys are never interpolated', () => {
    const text = yaml(...HEAD, '    url: https://api.openai.com', 'routers:', '  ${NAME}:', '    targets:', '      - upstream: openai');
    rejects(text, ['routers: "${NAME}" is not a valid name, e.g. openai, chat, gpt-4o.fast (gateway.yaml:7:3)'], { NAME: 'chat' });
  });

  test('malformed references are reported', () => {
    assert.deepEqual(interpolateString('a ${1X} b ${OK:-y} ${', { OK: 'x' }).errors, [
      'invalid reference "${1X}": expected ${NAME} or ${NAME:-default} (write "$${" for a literal "${")',
      'unclosed "${" (write "$${" for a literal "${")',
    ]);
    assert.deepEqual(interpolateString('cost: $5 ${A}', { A: '1' }), { value: 'cost: $5 1', fromEnv: true, whole: false, errors: [] });
    assert.equal(interpolateString('${A}', { A: '1' }).whole, true);
    assert.equal(interpolateString('$${A}', { A: '1' }).whole, false);
  });
});

describe('validation', () => {
  test('an unknown key points at the key and suggests the closest one', () => {
    rejects(withUpstream('    timout: 5s'), [
      'upstreams.openai: unknown key "timout" (gateway.yaml:6:5), did you mean "timeout"?',
    ]);
    rejects(yaml('version: 1', 'upstream: {}', ...ROUTERS), [
      'missing required key "upstreams" (gateway.yaml:1:1)',
      'unknown key "upstream" (gateway.yaml:2:1), did you mean "upstreams"?',
      'routers.chat.targets[0].upstream: unknown upstream "openai" (gateway.yaml:6:19)',
    ]);
  });

  test('an unknown key with nothing close lists the allowed keys', () => {
    rejects(yaml(...HEAD, '    url: https://api.openai.com', 'server:', '  port: 80', ...ROUTERS), [
      'server: unknown key "port"; expected one of: listen, admin, max_body, max_event, timeouts, drain, health, metrics, trusted_proxies, admin_token (gateway.yaml:7:3)',
    ]);
  });

  test('a wrong enum value lists the allowed values and suggests one', () => {
    rejects(yaml('version: 1', 'upstreams:', '  openai:', '    provider: openia', '    url: https://api.openai.com', ...ROUTERS), [
      'upstreams.openai.provider: "openia" is not one of "openai", "openai_compatible", "azure_openai", "anthropic", "mock" (gateway.yaml:4:15), did you mean "openai"?',
    ]);
  });

  test('a bad duration, size, number and host:port', () => {
    rejects(
      yaml(
        ...HEAD,
        '    url: https://api.openai.com',
        '    timeout: 5 seconds',
        '    connections: 0',
        'server:',
        '  max_body: 10 MB',
        '  listen: localhost',
        '  admin: true',
        ...ROUTERS,
      ),
      [
        'upstreams.openai.timeout: "5 seconds" is not a valid duration, e.g. 250ms, 30s, 5m (gateway.yaml:6:14)',
        'upstreams.openai.connections: must be at least 1 (got the number 0) (gateway.yaml:7:18)',
        'server.max_body: "10 MB" is not a valid size, e.g. 64kb, 10mb, 1gb (gateway.yaml:9:13)',
        'server.listen: "localhost" is not a valid host:port, e.g. 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080 (gateway.yaml:10:11)',
        'server.admin: must be one of: a host:port like 127.0.0.1:9090, false (no admin listener) (got true) (gateway.yaml:11:10)',
      ],
    );
  });

  test('missing required keys, including url for providers with no public default', () => {
    rejects(
      yaml('version: 1', 'upstreams:', '  openai:', '    provider: openai_compatible', '  fake:', '    provider: mock', '  claude:', '    provider: anthropic', 'routers:', '  chat:', '    aliases: [gpt]'),
      [
        'upstreams.openai: missing required key "url", required for openai_compatible, azure_openai (gateway.yaml:4:5)',
        'routers.chat: missing required key "targets" (gateway.yaml:11:5)',
      ],
    );
  });

  test('oneOf: the branch the value was meant for, or one summary line', () => {
    rejects(withUpstream('    auth: bearer'), [
      'upstreams.openai.auth: must be one of: "passthrough", { bearer: <token> }, { header: <name>, value: <value> } (got a string) (gateway.yaml:6:11)',
    ]);
    rejects(withUpstream('    auth: { bearer: 42 }'), [
      'upstreams.openai.auth.bearer: must be a string (got the number 42) (gateway.yaml:6:21)',
    ]);
    rejects(withUpstream('    auth: { header: x-api-key }'), [
      'upstreams.openai.auth: missing required key "value" (gateway.yaml:6:11)',
    ]);
  });

  test('version, types, empty lists, features and interceptors', () => {
    rejects(
      yaml(
        'version: 2',
        'upstreams:',
        '  openai: { provider: openai, url: https://api.openai.com }',
        'routers:',
        '  chat:',
        '    targets: []',
        '    features: { teleport: { attempts: 2 } }',
        '    interceptors: [ { pii_detecter: {} } ]',
        '  fast: []',
      ),
      [
        'version: must be 1 (got the number 2) (gateway.yaml:1:10)',
        'routers.chat.targets: must list at least one item (gateway.yaml:6:14)',
        `routers.chat.features: unknown feature "teleport"; expected one of: ${FEATURES.map((f) => f.name).sort().join(', ')} (gateway.yaml:7:17)`,
        'routers.chat.interceptors[0]: unknown interceptor "pii_detecter" (gateway.yaml:8:23), did you mean "pii_detector"?',
        'routers.fast: must be a map (got a list) (gateway.yaml:9:9)',
      ],
    );
  });

  test('YAML syntax errors, several documents, duplicate keys and an empty file', () => {
    rejects(yaml('version: 1', 'upstreams:', '\tbad: 1'), [
      'YAML syntax error: Tabs are not allowed as indentation (gateway.yaml:3:1)',
    ]);
    rejects(yaml('version: 1', 'upstreams: [', 'routers: {}'), [
      'YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ] (gateway.yaml:3:1)',
    ]);
    rejects(yaml('version: 1', '---', 'version: 1'), [
      'the file holds more than one YAML document; a config is exactly one (gateway.yaml:2:1)',
    ]);
    rejects(yaml('version: 1', 'version: 1'), ['YAML syntax error: Map keys must be unique (gateway.yaml:2:1)']);
    rejects('# nothing here\n', ['the config is empty; it needs at least version, upstreams and routers (gateway.yaml)']);
  });
});

describe('references', () => {
  test('unknown upstream and default router, with did-you-mean', () => {
    rejects(
      yaml(
        ...HEAD,
        '    url: https://api.openai.com',
        'default_router: chta',
        'routers:',
        '  chat:',
        '    targets:',
        '      - upstream: openai',
        '      - upstream: opnai',
        '      - upstream: anthropic',
      ),
      [
        'default_router: unknown router "chta" (gateway.yaml:6:17), did you mean "chat"?',
        'routers.chat.targets[1].upstream: unknown upstream "opnai" (gateway.yaml:11:19), did you mean "openai"?',
        'routers.chat.targets[2].upstream: unknown upstream "anthropic"; upstreams are: openai (gateway.yaml:12:19)',
      ],
    );
  });

  test('context_compression names an existing router and prompt', () => {
    rejects(
      yaml(
        ...HEAD,
        '    url: https://api.openai.com',
        'prompts:',
        '  summary: { template: "Summarize." }',
        'routers:',
        '  chat:',
        '    targets: [{ upstream: openai }]',
        '    features:',
        '      context_compression: { router: sumary, prompt: recap }',
      ),
      [
        'routers.chat.features.context_compression.router: unknown router "sumary"; routers are: chat (gateway.yaml:12:38)',
        'routers.chat.features.context_compression.prompt: unknown prompt "recap"; prompts are: summary (gateway.yaml:12:54)',
      ],
    );
  });

  test('aliases are unique across routers and never another router\'s name', () => {
    rejects(
      yaml(
        ...HEAD,
        '    url: https://api.openai.com',
        'default_router: gpt-fast',
        'routers:',
        '  chat:',
        '    aliases: [gpt-chat, fast, gpt-chat]',
        '    targets: [{ upstream: openai }]',
        '  fast:',
        '    aliases: [gpt-fast, gpt-chat]',
        '    targets: [{ upstream: openai }]',
      ),
      [
        'default_router: "gpt-fast" is an alias; default_router names a router (gateway.yaml:6:17), did you mean "fast"?',
        'routers.chat.aliases[1]: alias "fast" is the name of another router (gateway.yaml:9:25)',
        'routers.chat.aliases[2]: "gpt-chat" is listed twice (gateway.yaml:9:31)',
        'routers.fast.aliases[1]: alias "gpt-chat" is already an alias of router "chat" (gateway.yaml:12:25)',
      ],
    );
  });
});

test('every issue is reported at once, in file order', () => {
  const text = yaml(
    'version: 1',
    'upstreams:',
    '  openai:',
    '    provider: openai',
    '    url: ${OPENAI_URL}',
    '    timeout: soon',
    '    connectons: 8',
    'routers:',
    '  chat:',
    '    targets:',
    '      - upstream: opnai',
    '    strategy: round_robbin',
  );
  const lines = problems(text);
  assert.deepEqual(lines, [
    'upstreams.openai.url: environment variable "OPENAI_URL" is not set (write ${OPENAI_URL:-default} to give a default) (gateway.yaml:5:10)',
    'upstreams.openai.timeout: "soon" is not a valid duration, e.g. 250ms, 30s, 5m (gateway.yaml:6:14)',
    'upstreams.openai: unknown key "connectons" (gateway.yaml:7:5), did you mean "connections"?',
    'routers.chat.targets[0].upstream: unknown upstream "opnai" (gateway.yaml:11:19), did you mean "openai"?',
    'routers.chat.strategy: "round_robbin" is not one of "failover", "round_robin", "weighted", "percentage", "random", "latency_based", "cost_aware" (gateway.yaml:12:15), did you mean "round_robin"?',
  ]);
  try {
    load(text);
  } catch (error) {
    assert.deepEqual((error as ConfigError).issues[2], {
      path: 'upstreams.openai',
      line: 7,
      column: 5,
      message: 'unknown key "connectons"',
      source: 'gateway.yaml',
      suggestion: 'connections',
    });
  }
});

describe('redaction', () => {
  test('x-secret values, values from the environment and URL passwords are redacted', () => {
    const text = yaml(
      'version: 1',
      'upstreams:',
      '  openai:',
      '    provider: openai',
      '    url: https://api.openai.com',
      '    auth: { bearer: "${OPENAI_API_KEY}" }',
      '    connections: ${CONN:-8}',
      '    proxy: http://proxy-user:hunter2@proxy.internal:3128',
      '  local:',
      '    provider: openai_compatible',
      '    url: http://admin:pa55@127.0.0.1:8000/v1',
      '    auth: { header: x-api-key, value: literal-key }',
      '    timeout: ${LOCAL_TIMEOUT:-30s}',
      '  other:',
      '    provider: openai',
      '    url: https://api.openai.com',
      '    auth: { bearer: sk-literal }',
      ...ROUTERS,
    );
    const loaded = load(text, { OPENAI_API_KEY: 'sk-from-env', CONN: '16' });
    assert.equal(loaded.config.upstreams.openai!.connections, 16);
    assert.deepEqual((loaded.redacted as { upstreams: unknown }).upstreams, {
      openai: {
        provider: 'openai',
        url: 'https://api.openai.com',
        auth: { bearer: '[redacted]' },
        connections: '[redacted]',
        proxy: 'http://proxy-user:[redacted]@proxy.internal:3128',
      },
      local: {
        provider: 'openai_compatible',
        url: 'http://admin:[redacted]@127.0.0.1:8000/v1',
        auth: { header: 'x-api-key', value: '[redacted]' },
        timeout: '30s',
      },
      other: { provider: 'openai', url: 'https://api.openai.com', auth: { bearer: '[redacted]' } },
    });
    assert.ok(!JSON.stringify(loaded.redacted).includes('sk-'));
    assert.ok(Object.isFrozen((loaded.redacted as { upstreams: object }).upstreams));
  });

  test('error messages do not print values from the environment', () => {
    const lines = problems(withUpstream('    timeout: ${TIMEOUT}', '    proxy: ${PROXY}'), {
      TIMEOUT: 'sk-secret',
      PROXY: 'ftp://x',
    });
    assert.deepEqual(lines, [
      'upstreams.openai.timeout: "[redacted]" is not a valid duration, e.g. 250ms, 30s, 5m (gateway.yaml:6:14)',
      'upstreams.openai.proxy: "[redacted]" is not a valid proxy URL, e.g. http://proxy.internal:3128, "" (gateway.yaml:7:12)',
    ]);
  });
});

describe('loading', () => {
  test('the result: frozen config, source, hash of the raw text', () => {
    const text = withUpstream();
    const loaded = load(text);
    assert.equal(loaded.source, 'gateway.yaml');
    assert.equal(loaded.hash, createHash('sha256').update(text).digest('hex'));
    assert.ok(Object.isFrozen(loaded) && Object.isFrozen(loaded.config.routers.chat!.targets[0]));
    assert.throws(() => {
      (loaded.config.upstreams as Record<string, unknown>).evil = {};
    }, TypeError);
    assert.equal(loadConfigText(text).source, '<inline>');
  });

  test('loadConfigFile reads a file, and a missing file is a ConfigError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidegate-config-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, withUpstream());
    assert.equal(loadConfigFile(file, {}).source, file);
    assert.throws(
      () => loadConfigFile(join(dir, 'missing.yaml')),
      (error: unknown) =>
        error instanceof ConfigError && /^cannot read the config file: ENOENT: .* \(missing\.yaml\)$/.test(error.message),
    );
  });
});

test('suggestions: close typos only, transpositions count once, case is ignored', () => {
  assert.equal(editDistance('retyr', 'retry'), 1);
  assert.equal(closest('retyr', ['retry', 'cache']), 'retry');
  assert.equal(closest('OpenAI', ['openai', 'mock']), 'openai');
  assert.equal(closest('anthropic', ['openai', 'mock']), undefined);
  assert.equal(closest('ab', ['xy']), undefined);
});
