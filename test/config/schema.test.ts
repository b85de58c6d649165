import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gatewaySchema } from '../../src/config/schema.js';
import { SCHEMA_ID } from '../../src/config/defaults.js';
import { editorSchema } from '../../src/config/editor-schema.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { getValidator, validatorCompilations } from '../../src/config/validate.js';

const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Keywords whose value is data, not a schema. */
const DATA_KEYWORDS = new Set(['const', 'enum', 'default', 'examples']);
/** Keywords whose value maps names to schemas (a property may be called `default`). */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);

/** Every subschema of a schema, with its JSON Pointer. */
function* subschemas(node: unknown, pointer = '', isMap = false): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* subschemas(item, `${pointer}/${i}`);
  } else if (node !== null && typeof node === 'object') {
    if (!isMap) yield [pointer, node as Record<string, unknown>];
    for (const [key, value] of Object.entries(node)) {
      if (isMap || !DATA_KEYWORDS.has(key)) yield* subschemas(value, `${pointer}/${key}`, !isMap && SCHEMA_MAPS.has(key));
    }
  }
}

test('schemas/gateway.schema.json is up to date (run `npm run schema` after changing the schema)', () => {
  const file = readFileSync(root('schemas/gateway.schema.json'), 'utf8');
  assert.deepEqual(JSON.parse(file), editorSchema());
  assert.equal(file, `${JSON.stringify(editorSchema(), null, 2)}\n`);
});

test('the schema is draft 2020-12, documented and closed', () => {
  const schema = gatewaySchema();
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(schema.$id, SCHEMA_ID);
  assert.equal(typeof schema.title, 'string');
  for (const [pointer, node] of subschemas(schema)) {
    const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
    if (node.type === 'object' && properties) {
      assert.equal(node.additionalProperties, false, `${pointer} must set additionalProperties: false`);
      for (const [name, property] of Object.entries(properties)) {
        assert.equal(typeof property.description, 'string', `${pointer}/properties/${name} needs a description`);
      }
    }
  }
  const defs = schema.$defs as Record<string, Record<string, unknown>>;
  assert.deepEqual(Object.keys(schema.properties as object), [
    'version', 'server', 'logging', 'state', 'upstreams', 'defaults', 'default_router', 'routers', 'prompts', 'pricing', 'telemetry', 'webhooks', 'auth', 'teams', 'mcp_servers',
  ]);
  for (const def of ['duration', 'size', 'name']) assert.equal(typeof defs[def]!.pattern, 'string');
  const [, bearer, header] = defs.auth!.oneOf as { properties: Record<string, Record<string, unknown>> }[];
  assert.equal(bearer!.properties.bearer!['x-secret'], true);
  assert.equal(header!.properties.value!['x-secret'], true);
});

test('gatewaySchema() returns a fresh copy each time', () => {
  const a = gatewaySchema();
  (a.properties as Record<string, unknown>).version = {};
  assert.notDeepEqual(a, gatewaySchema());
});

test('the validator is compiled once per process and reused by every load', () => {
  const text = 'version: 1\nupstreams: { m: { provider: mock } }\nrouters: { r: { targets: [{ upstream: m }] } }\n';
  loadConfigText(text);
  const first = getValidator();
  loadConfigText(text);
  assert.throws(() => loadConfigText(text.replace('mock', 'mokc')));
  assert.equal(getValidator(), first);
  assert.equal(validatorCompilations(), 1);
});

test('every example in examples/ loads', () => {
  const env = { OPENAI_API_KEY: 'sk-example', MCP_TOKEN: 'sk-example', ANTHROPIC_API_KEY: 'sk-example', AZURE_OPENAI_API_KEY: 'sk-example', HTTPS_PROXY: 'http://proxy.example:3128', WEBHOOK_SECRET: 'whsec_c2lkZWdhdGUtZXhhbXBsZS1zZWNyZXQ=' };
  const files = readdirSync(root('examples')).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 3, 'at least three examples');
  for (const file of files) {
    const text = readFileSync(root(`examples/${file}`), 'utf8');
    assert.ok(text.startsWith('# yaml-language-server: $schema=../schemas/gateway.schema.json\n'), `${file}: schema line`);
    const loaded = loadConfigFile(root(`examples/${file}`), env);
    assert.equal(loaded.config.version, 1, file);
    assert.ok(!JSON.stringify(loaded.redacted).includes('sk-example'), `${file}: the key is redacted`);
  }
});
