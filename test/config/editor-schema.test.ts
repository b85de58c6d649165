import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { editorSchema } from '../../src/config/editor-schema.js';
import { gatewaySchema } from '../../src/config/schema.js';

const FILES = ['gateway.example.yaml', ...readdirSync('examples').filter((f) => /\.ya?ml$/.test(f)).map((f) => `examples/${f}`)];

/** What an editor does: the file as written (no interpolation) against the published schema. */
function editorCheck(schema: Record<string, unknown>) {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  return ajv.compile(schema);
}

test('the published schema accepts ${VAR} wherever the shipped examples use one', () => {
  const published = JSON.parse(readFileSync('schemas/gateway.schema.json', 'utf8'));
  const relaxed = editorCheck(published);
  const strict = editorCheck(gatewaySchema());
  let strictFailures = 0;
  for (const file of FILES) {
    const raw = parse(readFileSync(file, 'utf8'));
    assert.ok(relaxed(raw), `${file}: ${JSON.stringify(relaxed.errors)}`);
    if (!strict(raw)) strictFailures++;
  }
  // Without the placeholders the editor warned on the examples that read typed values from the environment.
  assert.ok(strictFailures >= 1);
});

test('the published schema still rejects what is wrong, ${VAR} or not', () => {
  const check = editorCheck(editorSchema());
  const base = { version: 1, upstreams: { m: { provider: 'mock' } }, routers: { r: { targets: [{ upstream: 'm' }] } } };
  const withServer = (server: unknown) => ({ ...base, server });
  assert.ok(check(withServer({ drain: '${DRAIN:-30s}', max_body: '${MAX_BODY}', listen: '0.0.0.0:${PORT:-8080}' })));
  assert.ok(check({ ...base, upstreams: { m: { provider: 'mock', connections: '${CONN:-64}', timeout: '${T}' } } }));
  assert.ok(check({ ...base, logging: { level: '${LOG_LEVEL:-info}', access: '${ACCESS:-true}' } }));
  assert.equal(check(withServer({ drain: '30 seconds' })), false);
  assert.equal(check(withServer({ drain: '$DRAIN' })), false, 'not a reference');
  assert.equal(check({ ...base, logging: { level: 'loud' } }), false);
  assert.equal(check({ ...base, routers: { '${R}': { targets: [{ upstream: 'm' }] } } }), false, 'names are never interpolated');
  assert.equal(check({ ...base, extra: '${X}' }), false);
});
