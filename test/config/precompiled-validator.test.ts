/**
 * The validator precompiled by `npm run schema` answers for every valid config, so a
 * start compiles nothing; it must say exactly what the compiled schema says. (Its own
 * process: nothing compiled the schema before these tests.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../../src/config/load.js';
import { precompiledValidatorSource } from '../../src/config/precompile.js';
import { validate as precompiled } from '../../src/config/precompiled-validator.js';
import { getValidator, validatorCompilations, type ValidationContext } from '../../src/config/validate.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const env = { OPENAI_API_KEY: 'sk-example', MCP_TOKEN: 'mcp-example', ANTHROPIC_API_KEY: 'sk-ant', AZURE_OPENAI_API_KEY: 'az-key', WEBHOOK_SECRET: 'whsec_c2lkZWdhdGUtZXhhbXBsZS1zZWNyZXQ=', HTTPS_PROXY: '', REDIS_URL: 'redis://:pw@127.0.0.1:6379' };
const configs = [
  'gateway.example.yaml',
  ...readdirSync(root('examples')).filter((f) => /\.ya?ml$/.test(f)).map((f) => `examples/${f}`),
];

test('a valid config is checked without compiling the schema, secrets found as before', () => {
  const loaded = configs.map((file) => loadConfigFile(root(file), env).config);
  assert.ok(loaded.every((c) => c.version === 1));
  assert.equal(validatorCompilations(), 0, 'no schema compiled for valid configs');

  const bearer = { upstreams: { u: { provider: 'openai', url: 'http://127.0.0.1:1', auth: { bearer: 'sk-1' } } }, version: 1, routers: { r: { targets: [{ upstream: 'u' }] } } };
  const header = { ...bearer, upstreams: { u: { provider: 'openai', url: 'http://127.0.0.1:1', auth: { header: 'x-key', value: 'k' } } } };
  for (const data of [bearer, header, ...loaded]) {
    const fast: ValidationContext = { secrets: [] };
    const full: ValidationContext = { secrets: [] };
    assert.equal(precompiled.call(fast, data), true);
    assert.equal(getValidator().call(full, data), true);
    assert.deepEqual(fast.secrets, full.secrets);
  }
  const fast: ValidationContext = { secrets: [] };
  precompiled.call(fast, bearer);
  assert.deepEqual(fast.secrets, ['/upstreams/u/auth/bearer']);
});

test('an invalid config is refused by both', () => {
  const data = { version: 1, upstreams: { u: { provider: 'openai', url: 'http://x', timeout: '5 minutes' } }, routers: {} };
  assert.equal(precompiled.call({ secrets: [] }, data), false);
  assert.equal(getValidator().call({ secrets: [] }, data), false);
});

test('src/config/precompiled-validator.ts is up to date (run `npm run schema` after changing the schema)', () => {
  assert.equal(readFileSync(root('src/config/precompiled-validator.ts'), 'utf8'), precompiledValidatorSource());
});

test('the precompiled validator is ASCII only (V8 would keep its whole source two bytes a character)', () => {
  const source = readFileSync(root('src/config/precompiled-validator.ts'), 'utf8');
  assert.doesNotMatch(source, /[^\x00-\x7f]/);
  assert.match(source, /\\u2026/, 'the schema text keeps its ellipses, escaped');
});
