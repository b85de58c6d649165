/**
 * Features and interceptors bring their own schema fragments: registering one is enough
 * for the schema build (and so, after `npm run schema`, for the config) to accept,
 * validate and redact it. This test replaces the registries' contents with stand-ins and
 * checks configs against the schema built from them (useSchema), so its expectations do
 * not change as real features arrive (each test file runs in its own process, and the
 * validator is compiled on first use).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FEATURES } from '../../src/features/all.js';
import { INTERCEPTORS } from '../../src/interceptors/all.js';
import type { FeatureModule, InterceptorModule } from '../../src/features/feature.js';
import { ConfigError, loadConfigText } from '../../src/config/load.js';
import { gatewaySchema } from '../../src/config/schema.js';
import { useSchema } from '../../src/config/validate.js';

const unused = (): never => {
  throw new Error('not used by the config tests');
};

(FEATURES as FeatureModule[]).splice(0, FEATURES.length, {
  name: 'retry',
  order: 50,
  describe: () => 'retry',
  create: unused,
  schema: {
    description: 'Re-sends to the same target on the listed failures.',
    type: 'object',
    additionalProperties: false,
    properties: {
      attempts: { description: 'Tries in all.', type: 'integer', minimum: 1 },
      backoff: {
        description: 'The first delay.',
        oneOf: [
          { title: 'a duration', $ref: '#/$defs/duration' },
          { title: 'milliseconds', type: 'integer', minimum: 0 },
        ],
      },
      on: {
        description: 'The failures to retry.',
        type: 'array',
        items: {
          anyOf: [
            { title: 'an HTTP status', type: 'integer', minimum: 100, maximum: 599 },
            { title: 'connect_error or timeout', enum: ['connect_error', 'timeout'] },
          ],
        },
      },
      token: { description: 'A credential.', type: 'string', 'x-secret': true },
    },
  },
});
(INTERCEPTORS as InterceptorModule[]).splice(0, INTERCEPTORS.length, {
  name: 'pii_detector',
  describe: () => 'pii',
  create: unused,
  schema: {
    description: 'Finds personal data.',
    type: 'object',
    additionalProperties: false,
    properties: { action: { description: 'What to do.', enum: ['block', 'redact', 'log'] } },
  },
});

useSchema(gatewaySchema());

const config = (features: string, interceptors: string): string =>
  [
    'version: 1',
    'upstreams:',
    '  m: { provider: mock }',
    'defaults:',
    `  features: ${features}`,
    'routers:',
    '  chat:',
    '    targets: [{ upstream: m }]',
    `    interceptors: ${interceptors}`,
    '',
  ].join('\n');

test('fragments appear in the schema under features and interceptors', () => {
  const defs = gatewaySchema().$defs as Record<string, { properties?: object; items?: { properties: object } }>;
  assert.ok(Object.keys(defs.features!.properties!).includes('retry'));
  assert.deepEqual(Object.keys(defs.interceptors!.items!.properties), ['pii_detector']);
});

test('registered fragments validate, and x-secret in a fragment is redacted', () => {
  const loaded = loadConfigText(
    config('{ retry: { attempts: 2, backoff: 100, on: [429, timeout], token: t0k } }', '[ { pii_detector: { action: redact } } ]'),
  );
  const retry = { attempts: 2, backoff: 100, on: [429, 'timeout'] };
  assert.deepEqual(loaded.config.defaults!.features, { retry: { ...retry, token: 't0k' } });
  assert.deepEqual((loaded.redacted as { defaults: unknown }).defaults, { features: { retry: { ...retry, token: '[redacted]' } } });
});

test('errors inside fragments, unknown features and interceptors with suggestions', () => {
  assert.throws(
    () => loadConfigText(config('{ retyr: {}, retry: { backoff: 1 minute, on: [700, timeot] } }', '[ { pii_detectr: {} }, { pii_detector: { action: drop } }, {} ]'), 'gateway.yaml', {}),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.message.split('\n'), [
        'defaults.features: unknown feature "retyr" (gateway.yaml:5:15), did you mean "retry"?',
        'defaults.features.retry.backoff: "1 minute" is not a valid duration, e.g. 250ms, 30s, 5m (gateway.yaml:5:44)',
        'defaults.features.retry.on[0]: must be at most 599 (got the number 700) (gateway.yaml:5:59)',
        'defaults.features.retry.on[1]: must be one of: an HTTP status, connect_error or timeout (got the string "timeot") (gateway.yaml:5:64), did you mean "timeout"?',
        'routers.chat.interceptors[0]: unknown interceptor "pii_detectr" (gateway.yaml:9:23), did you mean "pii_detector"?',
        'routers.chat.interceptors[1].pii_detector.action: "drop" is not one of "block", "redact", "log" (gateway.yaml:9:68)',
        'routers.chat.interceptors[2]: must name one interceptor (gateway.yaml:9:78)',
      ]);
      return true;
    },
  );
});

test('an interceptor item names exactly one interceptor', () => {
  assert.throws(
    () => loadConfigText(config('{}', '[ { pii_detector: {}, retry: {} } ]'), 'gateway.yaml', {}),
    {
      message: [
        'routers.chat.interceptors[0]: must name exactly one interceptor; put each interceptor in its own list item (gateway.yaml:9:21)',
        'routers.chat.interceptors[0]: unknown interceptor "retry"; expected one of: pii_detector (gateway.yaml:9:41)',
      ].join('\n'),
    },
  );
});
