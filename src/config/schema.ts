/**
 * The JSON Schema of gateway.yaml (draft 2020-12), assembled from the base below plus the
 * schema fragment of every registered feature and interceptor. `npm run schema` writes it
 * to schemas/gateway.schema.json; a test fails when that file is stale.
 *
 * Conventions every fragment may use:
 * - `{ "$ref": "#/$defs/duration" }`, `#/$defs/size`, `#/$defs/name`, `#/$defs/http_url`,
 *   `#/$defs/host_port`: the shared string formats (error messages use their title and examples).
 * - `"x-secret": true` on a property whose value is a credential: it is redacted in /config and logs.
 * - `"x-regex": true` on a string that must be a valid regular expression.
 * - `"x-range": [min, max]` beside a duration or size `$ref` (use `bounded()` from ranges.js):
 *   every duration, size and count has a documented range.
 * - a `description` on every property and `additionalProperties: false` on every object.
 */
import { DURATION_PATTERN, SIZE_PATTERN } from '../util/units.js';
import { bounded } from './ranges.js';
import { CONFIG_DEFAULTS, NAME_PATTERN, SCHEMA_ID } from './defaults.js';
import { FEATURES } from '../features/all.js';
import { budget } from '../features/budget.js';
import { rateLimit } from '../features/rate_limit.js';
import { INTERCEPTORS } from '../interceptors/all.js';
import { PROVIDERS } from '../providers/all.js';
import type { SchemaFragment } from '../features/feature.js';
import { EVENT_TYPES } from '../events/events.js';
import { KIND_KEYWORD, REGEX_KEYWORD, SECRET_KEYWORD } from './schema-keywords.js';
import { tenancyDefs, tenancyProperties } from './tenancy-schema.js';

const PORT = '([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])';
const HOST_PORT_PATTERN = `^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):${PORT}$`;
const HTTP_URL_PATTERN = '^https?://[^\\s/?#]+([/?#]\\S*)?$';
const PROXY_PATTERN = '^(https?://[^\\s/?#]+([/?#]\\S*)?)?$';


const ref = (def: string, description: string, extra: SchemaFragment = {}): SchemaFragment => ({
  $ref: `#/$defs/${def}`,
  description,
  ...extra,
});

/** A map from names to entries of `$defs/<def>`, with at least one entry. */
const namedMap = (def: string, description: string, max: number): SchemaFragment => ({
  description: `${description} At most ${max}.`,
  type: 'object',
  minProperties: 1,
  maxProperties: max,
  propertyNames: { $ref: '#/$defs/name' },
  additionalProperties: { $ref: `#/$defs/${def}` },
});

function baseDefs(): Record<string, SchemaFragment> {
  const needsUrl = PROVIDERS.filter((p) => p.defaultUrl === null && !p.inProcess).map((p) => p.name);
  return {
    name: {
      title: 'name',
      description: 'A name: letters, digits, `_`, `.` and `-`, starting with a letter or digit.',
      type: 'string',
      pattern: NAME_PATTERN,
      examples: ['openai', 'chat', 'gpt-4o.fast'],
    },
    duration: {
      title: 'duration',
      description: 'A duration: a number and a unit, one of ms, s, m, h, d (e.g. `250ms`, `30s`, `5m`, `1h`, `7d`).',
      type: 'string',
      pattern: DURATION_PATTERN,
      examples: ['250ms', '30s', '5m', '1h', '7d'],
    },
    size: {
      title: 'size',
      description: 'A size in bytes: a number and a unit, one of b, kb, mb, gb (1kb = 1024 bytes; e.g. `64kb`, `10mb`).',
      type: 'string',
      pattern: SIZE_PATTERN,
      examples: ['64kb', '10mb', '1gb'],
    },
    host_port: {
      title: 'host:port',
      description: 'An address to listen on: `host:port` (IPv6 hosts in brackets). Port 0 picks a free port.',
      type: 'string',
      pattern: HOST_PORT_PATTERN,
      examples: ['127.0.0.1:8080', '0.0.0.0:8080', '[::1]:8080', '127.0.0.1:0'],
    },
    http_url: {
      title: 'http(s) URL',
      description: 'An absolute `http://` or `https://` URL.',
      type: 'string',
      pattern: HTTP_URL_PATTERN,
      examples: ['https://api.openai.com', 'http://127.0.0.1:11434/v1'],
    },
    auth: {
      description:
        'The credential sent to the upstream. `passthrough` (default) forwards the caller\'s own ' +
        'credential, only to an upstream of the API the caller called (`Authorization` on OpenAI paths; `x-api-key` or ' +
        '`Authorization` on `/v1/messages`): a request translated to the other API gets none. `{ bearer: <token> }` sends `Authorization: Bearer <token>`; ' +
        '`{ header: <name>, value: <value> }` sends a header of your choice. The caller\'s ' +
        'credential is not forwarded when the gateway injects its own. Use `${VAR}` to read ' +
        'secrets from the environment.',
      default: CONFIG_DEFAULTS.auth,
      oneOf: [
        { title: '"passthrough"', const: 'passthrough' },
        {
          title: '{ bearer: <token> }',
          type: 'object',
          additionalProperties: false,
          required: ['bearer'],
          properties: {
            bearer: {
              description: 'The token sent as `Authorization: Bearer <token>`, e.g. `"${OPENAI_API_KEY}"`. Redacted in /config and logs.',
              type: 'string',
              minLength: 1,
              [SECRET_KEYWORD]: true,
            },
          },
        },
        {
          title: '{ header: <name>, value: <value> }',
          type: 'object',
          additionalProperties: false,
          required: ['header', 'value'],
          properties: {
            header: {
              description: 'The request header that carries the credential, e.g. `x-api-key`.',
              type: 'string',
              pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$',
            },
            value: {
              description: 'The header\'s value, e.g. `"${ANTHROPIC_API_KEY}"`. Redacted in /config and logs.',
              type: 'string',
              minLength: 1,
              [SECRET_KEYWORD]: true,
            },
          },
        },
      ],
    },
    upstream: {
      description: 'A provider the gateway may call. Nothing that is not listed under `upstreams` is ever called.',
      type: 'object',
      additionalProperties: false,
      required: ['provider'],
      properties: {
        provider: {
          description: `The API the upstream speaks: ${PROVIDERS.map((p) => p.summary).join('; ')}.`,
          enum: PROVIDERS.map((p) => p.name),
        },
        url: ref(
          'http_url',
          'The upstream\'s base URL, e.g. `https://api.openai.com`. A trailing `/v1` is optional. ' +
            `Required for ${needsUrl.map((n) => `\`${n}\``).join(' and ')}; \`openai\` and \`anthropic\` default to their public API. ` +
            'Credentials in the URL are redacted in /config and logs.',
        ),
        auth: ref('auth', 'How the gateway authenticates to this upstream. Default `passthrough`.'),
        timeout: bounded(
          'duration',
          '1ms',
          '1d',
          'How long to wait for the response headers, and the longest gap allowed between two ' +
            'chunks of a streamed body. Default `60s`.',
          { default: CONFIG_DEFAULTS.timeout },
        ),
        connections: {
          description: 'The size of the keep-alive connection pool to this upstream (1 to 4096). Default `128`.',
          type: 'integer',
          minimum: 1,
          maximum: 4096,
          default: CONFIG_DEFAULTS.connections,
        },
        proxy: {
          title: 'proxy URL',
          description:
            'An outbound HTTP(S) forward proxy for calls to this upstream, e.g. `"${HTTPS_PROXY:-}"`. ' +
            'An empty string means no proxy. Credentials in the URL are redacted in /config and logs.',
          type: 'string',
          pattern: PROXY_PATTERN,
          examples: ['http://proxy.internal:3128', ''],
        },
        ...providerKeys(),
      },
      if: { properties: { provider: { enum: needsUrl } }, required: ['provider'] },
      then: {
        description: `required for ${needsUrl.join(', ')}`,
        properties: { url: { description: `Required for ${needsUrl.join(', ')}.` } },
        required: ['url'],
      },
    },
    target: {
      description: 'One place a router can send a request: an upstream, optionally with another model.',
      type: 'object',
      additionalProperties: false,
      required: ['upstream'],
      properties: {
        upstream: ref('name', 'The name of an entry under `upstreams`.'),
        model: {
          description:
            'Rewrites the request body\'s `model` to this value for this target, e.g. `gpt-4o-mini`. ' +
            'Without it the model passes through unchanged.',
          type: 'string',
          minLength: 1,
        },
        weight: {
          description:
            'The target\'s share for `weighted` (relative; default 1; 0 is never tried first but can be a fallback) and ' +
            '`percentage` (percent of requests; required, and the router\'s weights add up to 100). Ignored by other strategies. Range: 0 to 1000000.',
          type: 'integer',
          minimum: 0,
          maximum: 1_000_000,
        },
      },
    },
    router: {
      description:
        'A named route: requests pinned to it (`/router/<name>/v1/...`) or whose body `model` equals ' +
        'its name or one of its aliases are sent to its targets.',
      type: 'object',
      additionalProperties: false,
      required: ['targets'],
      properties: {
        aliases: {
          description:
            'More `model` values that select this router, e.g. `[gpt-fast]`. Unique across all routers, ' +
            'and never the name of another router. At most 1000.',
          type: 'array',
          maxItems: 1000,
          uniqueItems: true,
          items: { type: 'string', minLength: 1 },
        },
        strategy: {
          description:
            'How the router orders its targets for each request; the first is tried, `fallback` and `hedging` take the next ones. ' +
            '`failover` (default): config order. `round_robin`: each request starts at the next target. ' +
            '`weighted`: smooth weighted round robin by `weight` (deterministic). `percentage`: a random split by `weight`; ' +
            'every target sets a weight and they add up to 100. `random`: uniformly random. `latency_based`: fastest first by ' +
            'a moving average of time to first byte, with 10% of requests exploring another target so a recovered one gets ' +
            'traffic back. `cost_aware`: cheapest first by the `pricing` table (input + output per 1M tokens of the model ' +
            'each target would be sent); unpriced targets last. Unhealthy targets (`health_check`) go last whatever the strategy.',
          enum: ['failover', 'round_robin', 'weighted', 'percentage', 'random', 'latency_based', 'cost_aware'],
          default: CONFIG_DEFAULTS.strategy,
        },
        targets: {
          description: 'Where requests go, in strategy order. At least one, at most 100.',
          type: 'array',
          minItems: 1,
          maxItems: 100,
          items: { $ref: '#/$defs/target' },
        },
        features: ref('features', 'This router\'s features; each key overrides the same key under `defaults.features`.'),
        interceptors: ref('interceptors', 'This router\'s interceptors; when set, it replaces `defaults.interceptors`.'),
      },
    },
  };
}

/** The upstream keys each provider module declares (a key belongs to one provider). */
function providerKeys(): Record<string, SchemaFragment> {
  const out: Record<string, SchemaFragment> = {};
  for (const p of PROVIDERS) {
    for (const [key, schema] of Object.entries(p.keys)) {
      if (Object.hasOwn(out, key)) throw new Error(`upstream key "${key}" is declared by two providers`);
      out[key] = structuredClone(schema);
    }
  }
  return out;
}

/** `features`: one optional property per registered feature, keyed by its name. */
function featuresDef(): SchemaFragment {
  return {
    description:
      'Features, keyed by name; each at most once. They run in the gateway\'s fixed pipeline order, ' +
      'whatever order they are written in. A feature that is not listed costs nothing.',
    type: 'object',
    [KIND_KEYWORD]: 'feature',
    additionalProperties: false,
    properties: fragments(FEATURES, 'feature'),
  };
}

/**
 * `interceptors`: an ordered list whose items are single-key maps `{ <name>: <config> }`.
 * Expressed as one object schema with a property per interceptor and exactly one key
 * (equivalent to a oneOf of single-key objects, with far clearer errors). With no
 * interceptor registered, every item is an unknown interceptor.
 */
function interceptorsDef(): SchemaFragment {
  return {
    description:
      'Interceptors, in the order they run on the request (the response side runs them in reverse). ' +
      'Each item is a map with one key, the interceptor\'s name, e.g. `- pii_detector: { action: redact }`. At most 64.',
    type: 'array',
    maxItems: 64,
    items: {
      description: 'One interceptor: `{ <name>: <its config> }`.',
      type: 'object',
      [KIND_KEYWORD]: 'interceptor',
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: false,
      properties: fragments(INTERCEPTORS, 'interceptor'),
    },
  };
}

function fragments(modules: readonly { name: string; schema: SchemaFragment }[], kind: string): Record<string, SchemaFragment> {
  const nameRe = new RegExp(NAME_PATTERN);
  const out: Record<string, SchemaFragment> = {};
  for (const m of [...modules].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (!nameRe.test(m.name)) throw new Error(`${kind} name "${m.name}" is not a valid name`);
    if (Object.hasOwn(out, m.name)) throw new Error(`${kind} "${m.name}" is registered twice`);
    if (typeof m.schema !== 'object' || m.schema === null) throw new Error(`${kind} "${m.name}" has no schema fragment`);
    out[m.name] = structuredClone(m.schema);
  }
  return out;
}

function telemetrySchema(): SchemaFragment {
  return {
    description:
      'OpenTelemetry, off unless set: a span per request and a child span per upstream try (GenAI semantic conventions), the ' +
      'caller\'s `traceparent` continued and each try\'s sent upstream, `trace_id` in the access line, and the metrics ' +
      '`gen_ai.client.token.usage` and `gen_ai.client.operation.duration`, all exported over OTLP/HTTP.',
    type: 'object',
    additionalProperties: false,
    required: ['otlp'],
    properties: {
      otlp: {
        description: 'Where to export: an OpenTelemetry Collector (or any OTLP/HTTP receiver).',
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: ref('http_url', 'The receiver\'s base URL, e.g. `http://otel-collector:4318`; `/v1/traces` and `/v1/metrics` are appended.'),
          protocol: {
            description: 'The OTLP/HTTP encoding: `http/protobuf` (default) or `http/json`.',
            enum: ['http/protobuf', 'http/json'],
            default: CONFIG_DEFAULTS.otlp_protocol,
          },
          headers: {
            description: 'Headers sent with every export, e.g. `{ authorization: "Bearer ${OTLP_TOKEN}" }` (at most 32). Values are redacted in /config and logs.',
            type: 'object',
            maxProperties: 32,
            propertyNames: { pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' },
            additionalProperties: { type: 'string', maxLength: 4096, [SECRET_KEYWORD]: true },
          },
          timeout: bounded('duration', '100ms', '60s', 'How long one export may take. Default `10s`.', { default: CONFIG_DEFAULTS.otlp_timeout }),
        },
      },
      service_name: {
        description: 'The `service.name` resource attribute. Default `sidegate`.',
        type: 'string',
        minLength: 1,
        maxLength: 256,
        default: CONFIG_DEFAULTS.service_name,
      },
      sample: {
        description:
          'The share of new traces recorded, 0 to 1. Default `1`. A caller\'s `traceparent` decides for its own trace (sampled or not).',
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: CONFIG_DEFAULTS.trace_sample,
      },
      metrics_interval: bounded('duration', '1s', '1h', 'How often metrics are exported. Default `60s`; they are also exported at shutdown.', {
        default: CONFIG_DEFAULTS.metrics_interval,
      }),
    },
  };
}

/** The most MCP servers a config may name. */
export const MAX_MCP_SERVERS = 32;

function mcpServersSchema(): SchemaFragment {
  const secretMap = (what: string, max: number, names: SchemaFragment): SchemaFragment => ({
    description: `${what} (at most ${max}); values may come from \`\${VAR}\` and are redacted in /config, logs and explain.`,
    type: 'object',
    maxProperties: max,
    propertyNames: names,
    additionalProperties: { type: 'string', maxLength: 4096, [SECRET_KEYWORD]: true },
  });
  return {
    description:
      `MCP (Model Context Protocol) servers by name (at most ${MAX_MCP_SERVERS}), for the \`mcp_tools\` feature: each is streamable HTTP (\`url\`, \`headers\`) ` +
      'or a child process spoken to over stdio (`command`, `args`, `env`). A pipeline connects to the servers its routers use in the ' +
      'background, lists their tools, and keeps the lists fresh on `notifications/tools/list_changed`; a server that is down has no tools ' +
      'until it is back (retried with backoff).',
    type: 'object',
    maxProperties: MAX_MCP_SERVERS,
    propertyNames: { $ref: '#/$defs/name' },
    additionalProperties: {
      description: 'One MCP server: `{ url, headers }` or `{ command, args, env }`.',
      oneOf: [
        {
          description: 'A streamable HTTP server.',
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: ref('http_url', 'The server\'s MCP endpoint, e.g. `http://127.0.0.1:3001/mcp`. Credentials in the URL are redacted in /config and logs.'),
            headers: secretMap('Headers sent with every request to the server, e.g. `{ authorization: "Bearer ${MCP_TOKEN}" }`', 32, {
              pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$',
            }),
          },
        },
        {
          description: 'A server the gateway starts as a child process and speaks to over stdin/stdout; it is stopped with its pipeline.',
          type: 'object',
          additionalProperties: false,
          required: ['command'],
          properties: {
            command: { description: 'The program to run, e.g. `npx` or `/usr/local/bin/my-mcp-server`.', type: 'string', minLength: 1, maxLength: 4096 },
            args: {
              description: 'Its arguments (at most 64).',
              type: 'array',
              maxItems: 64,
              items: { description: 'One argument.', type: 'string', maxLength: 4096 },
            },
            env: secretMap('Environment variables for the process, over a minimal inherited set (PATH, HOME, …)', 64, { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
          },
        },
      ],
    },
  };
}

function webhooksSchema(): SchemaFragment {
  return {
    description:
      'Events POSTed to other systems, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`). ' +
      'Delivered off the request path from a bounded queue, one at a time per webhook, retried with exponential backoff on ' +
      'network errors, 408, 429 and 5xx. At most 16.',
    type: 'array',
    maxItems: 16,
    items: {
      description: 'One receiver.',
      type: 'object',
      additionalProperties: false,
      required: ['url', 'secret'],
      properties: {
        url: ref('http_url', 'Where events are POSTed, e.g. `https://hooks.example.com/sidegate`. Credentials in the URL are redacted in /config and logs.'),
        secret: {
          description:
            'The signing secret, `whsec_` and base64 (as Standard Webhooks libraries make them), e.g. `"${WEBHOOK_SECRET}"`. ' +
            'Redacted in /config and logs.',
          type: 'string',
          pattern: '^whsec_[A-Za-z0-9+/]{16,}={0,2}$',
          [SECRET_KEYWORD]: true,
        },
        name: ref('name', 'Names this webhook in logs and in `ai_gateway_webhook_deliveries_total{webhook}`. Default `webhook-<index>`.'),
        events: {
          description: `The events sent to this webhook. Default: all of them (${EVENT_TYPES.join(', ')}).`,
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          items: { enum: [...EVENT_TYPES] },
        },
        timeout: bounded('duration', '100ms', '60s', 'How long one delivery may take. Default `10s`.', { default: CONFIG_DEFAULTS.webhook_timeout }),
        max_attempts: {
          description: 'Tries per event, the first included (1 to 20). Default `8`.',
          type: 'integer',
          minimum: 1,
          maximum: 20,
          default: CONFIG_DEFAULTS.webhook_max_attempts,
        },
        backoff: bounded('duration', '0ms', '1h', 'The first retry waits up to this long, each next one twice as long (full jitter). Default `1s`.', { default: CONFIG_DEFAULTS.webhook_backoff }),
        max_backoff: bounded('duration', '0ms', '1d', 'The longest wait between two tries. Default `5m`.', { default: CONFIG_DEFAULTS.webhook_max_backoff }),
        max_queue: {
          description: 'Events waiting for this webhook at most (1 to 100000); past it new events are dropped and counted. Default `1000`.',
          type: 'integer',
          minimum: 1,
          maximum: 100000,
          default: CONFIG_DEFAULTS.webhook_max_queue,
        },
      },
    },
  };
}

/** Tenancy's definitions, built from the rate_limit and budget features' own fragments. */
function tenantDefs(): Record<string, SchemaFragment> {
  return tenancyDefs(rateLimit.schema, budget.schema);
}

/** A map of template variables: a text, or where each request's value comes from. */
function promptVariablesDef(): SchemaFragment {
  return {
    description: 'Template variables by name: a text, `{ header: <name> }` (that request header) or `{ body: <field> }` (a body field; dots reach into objects). The last two are read by the `prompt` interceptor on each request.',
    type: 'object',
    maxProperties: 100,
    propertyNames: { $ref: '#/$defs/name' },
    additionalProperties: {
      description: 'A variable\'s value.',
      anyOf: [
        { title: 'a text', type: 'string', maxLength: 10_000 },
        {
          title: '{ header: <name> }',
          type: 'object',
          additionalProperties: false,
          required: ['header'],
          properties: { header: { description: 'The request header whose value is used.', type: 'string', pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' } },
        },
        {
          title: '{ body: <field> }',
          type: 'object',
          additionalProperties: false,
          required: ['body'],
          properties: { body: { description: 'The body field whose value (a string or a number) is used, e.g. `metadata.plan`.', type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+){0,7}$' } },
        },
      ],
    },
  };
}

/** The whole schema, assembled afresh on every call (callers may mutate their copy). */
export function gatewaySchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'sidegate gateway configuration',
    description:
      'gateway.yaml: the one configuration file of the sidegate AI gateway. `${VAR}` and ' +
      '`${VAR:-default}` in any value read the environment at load time (`$${` writes a literal `${`).',
    type: 'object',
    additionalProperties: false,
    required: ['version', 'upstreams', 'routers'],
    properties: {
      version: { description: 'The config format version. Always `1`.', const: 1 },
      server: {
        description: 'The listeners.',
        type: 'object',
        additionalProperties: false,
        properties: {
          listen: ref(
            'host_port',
            'Where the data plane listens: the apps\' base URL is `http://<listen>/v1`. Default `127.0.0.1:8080`; port 0 picks a free port.',
            { default: CONFIG_DEFAULTS.listen },
          ),
          admin: {
            description:
              'Where the admin listener (`/healthz`, `/readyz`, `/metrics`, `/stats`, `/config`) listens, ' +
              'or `false` for none. Default `127.0.0.1:9090`.',
            default: CONFIG_DEFAULTS.admin,
            anyOf: [
              { title: 'a host:port like 127.0.0.1:9090', $ref: '#/$defs/host_port' },
              { title: 'false (no admin listener)', const: false },
            ],
          },
          max_body: bounded(
            'size',
            '1kb',
            '1gb',
            'The largest request body accepted, JSON, streamed or chunked; larger requests get 413 `request_too_large` and the upstream call is aborted. Default `10mb`.',
            { default: CONFIG_DEFAULTS.max_body },
          ),
          max_event: bounded(
            'size',
            '1kb',
            '256mb',
            'The largest server-sent event the gateway holds while a stage reads or changes a stream event by event (token counting, answer checks, translation); ' +
              'streams no stage reads flow through byte by byte and hold nothing. Past it the stream ends with an SSE `error` event. Default `4mb`.',
            { default: CONFIG_DEFAULTS.max_event },
          ),
          timeouts: {
            description: 'How long a client may take to send its request; past it the connection gets 408 and is closed.',
            type: 'object',
            additionalProperties: false,
            properties: {
              headers: bounded('duration', '100ms', '10m', 'Time to receive the request line and headers. Default `10s`.', {
                default: CONFIG_DEFAULTS.header_timeout,
              }),
              body: bounded('duration', '100ms', '1h', 'Time to receive the body, once the headers are in. Default `60s`.', {
                default: CONFIG_DEFAULTS.body_timeout,
              }),
            },
          },
          drain: bounded(
            'duration',
            '0ms',
            '1h',
            'On SIGTERM, how long in-flight requests may take to finish (readiness fails at once) before the process exits. Default `25s`.',
            { default: CONFIG_DEFAULTS.drain },
          ),
          health: ref(
            'host_port',
            'A probe-only listener serving just `/healthz` and `/readyz`, for the kubelet (e.g. `0.0.0.0:9091`), so the admin ' +
              'listener can stay on loopback. Default: none.',
          ),
          metrics: ref(
            'host_port',
            'A listener serving only `/metrics`, for Prometheus scraping from outside the pod (e.g. `0.0.0.0:9092`), so the ' +
              'admin listener (with `/config` and `DELETE /cache`) can stay on loopback. Default: none.',
          ),
          trusted_proxies: {
            description:
              'Peers (IPs or CIDRs, e.g. `10.0.0.0/8`, `::1`) whose `X-Forwarded-For` header is believed when the gateway ' +
              'needs the client\'s address (rate limits keyed by `client_ip`). The client is the rightmost address not in ' +
              'this list. Default: none, so the TCP peer is the client. At most 1000.',
            type: 'array',
            maxItems: 1000,
            items: { type: 'string', pattern: '^[0-9A-Fa-f:.]+(/[0-9]{1,3})?$' },
          },
          admin_token: {
            description:
              'A bearer token (at least 16 characters) the admin listener requires as `Authorization: Bearer <token>` on ' +
              'every endpoint except `/healthz` and `/readyz`, so probes keep working when it listens on the pod IP. ' +
              'Use `${VAR}`; redacted in /config and logs. Default: none (the admin listener is loopback by default).',
            type: 'string',
            minLength: 16,
            [SECRET_KEYWORD]: true,
          },
        },
      },
      logging: {
        description: 'Logs (JSON lines on stdout).',
        type: 'object',
        additionalProperties: false,
        properties: {
          level: {
            description: 'The lowest level written. Default `info`; `silent` writes nothing.',
            enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
            default: CONFIG_DEFAULTS.log_level,
          },
          access: {
            description: 'Write one access line per request. Default `true`.',
            type: 'boolean',
            default: CONFIG_DEFAULTS.access_log,
          },
        },
      },
      state: {
        description:
          'Where shared state lives: rate-limit buckets, budget spend and cached answers. It survives config reloads ' +
          '(a changed `state` section starts a new store).',
        type: 'object',
        additionalProperties: false,
        required: ['backend'],
        properties: {
          backend: {
            description:
              'The state store. `memory` (default): in this process only. `redis`: shared by every replica that uses ' +
              'the same Redis and `prefix`, so they enforce one limit and one budget and share one cache. If Redis is ' +
              'unreachable the gateway keeps serving on local counters, logs it, counts the failures ' +
              '(`ai_gateway_state_failures_total`) and reports it in /readyz, and uses Redis again once it returns.',
            enum: ['memory', 'redis'],
            default: CONFIG_DEFAULTS.state_backend,
          },
          redis: {
            description:
              'The Redis connection; required when `backend` is `redis`. Exactly one of `url` (one server), `nodes` (a Redis ' +
              'Cluster) or `sentinels` with `name` (a Sentinel-managed primary). Every script the gateway runs touches keys of ' +
              'one hash slot (hash tags), so a cluster serves it as one server would.',
            type: 'object',
            additionalProperties: false,
            dependentRequired: { sentinels: ['name'] },
            properties: {
              url: {
                description:
                  'A `redis://` or `rediss://` (TLS) URL, e.g. `"${REDIS_URL}"`; a password goes in the URL ' +
                  '(`redis://:pass@host:6379/0`). Redacted in /config and logs.',
                type: 'string',
                pattern: '^rediss?://\\S+$',
                [SECRET_KEYWORD]: true,
              },
              nodes: {
                description: 'Some nodes of a Redis Cluster (`host:port`, 1 to 100); the others are discovered from them.',
                type: 'array',
                minItems: 1,
                maxItems: 100,
                uniqueItems: true,
                items: { $ref: '#/$defs/host_port' },
              },
              sentinels: {
                description: 'Redis Sentinels (`host:port`, 1 to 100) that name the primary called `name`.',
                type: 'array',
                minItems: 1,
                maxItems: 100,
                uniqueItems: true,
                items: { $ref: '#/$defs/host_port' },
              },
              name: {
                description: 'With `sentinels`: the name of the primary the sentinels watch, e.g. `mymaster`.',
                type: 'string',
                minLength: 1,
                maxLength: 256,
              },
              password: {
                description: 'With `nodes` or `sentinels`: the password of the Redis servers, e.g. `"${REDIS_PASSWORD}"`. Redacted in /config and logs.',
                type: 'string',
                minLength: 1,
                [SECRET_KEYWORD]: true,
              },
              prefix: {
                description: 'Prepended to every key the gateway writes, so several gateways or apps can share one Redis. Default `sidegate:`.',
                type: 'string',
                default: CONFIG_DEFAULTS.redis_prefix,
              },
              timeout: bounded(
                'duration',
                '1ms',
                '1m',
                'The longest wait for one Redis command; past it the operation is answered from local counters (and counted as a failure), ' +
                  'and Redis is marked down: every operation is local until a background probe finds it answering again. Default `250ms`.',
                { default: CONFIG_DEFAULTS.redis_timeout },
              ),
            },
          },
        },
        if: { properties: { backend: { const: 'redis' } }, required: ['backend'] },
        then: {
          description: 'redis needs its connection',
          properties: { redis: { description: 'Required when `backend` is `redis`.' } },
          required: ['redis'],
        },
      },
      upstreams: namedMap('upstream', 'The providers the gateway may call, by name (at least one). Nothing else is ever called.', 1000),
      defaults: {
        description: 'Inherited by every router; a router\'s own keys win.',
        type: 'object',
        additionalProperties: false,
        properties: {
          features: ref('features', 'Features every router gets unless it sets the same feature itself.'),
          interceptors: ref('interceptors', 'Interceptors for routers that do not list their own.'),
        },
      },
      default_router: ref(
        'name',
        'The router for requests whose `model` names no router or alias. Without it, such requests get 404 `model_not_found`.',
      ),
      routers: namedMap('router', 'The routes, by name (at least one). A request\'s `model` selects a router by name or alias.', 10_000),
      prompts: {
        description:
          'Prompt templates by name, for the features and interceptors that name one (`context_compression.prompt`, the `prompt` ' +
          'interceptor). `{{name}}` placeholders are filled from `variables`: a text from the config, or (for the `prompt` ' +
          'interceptor) a value read from each request (`{ header: x-user-name }`, `{ body: metadata.plan }`). A variable the ' +
          'interceptor\'s template uses but nothing declares is a config error; one a request lacks is a 400, never a blank.',
        type: 'object',
        maxProperties: 1000,
        propertyNames: { $ref: '#/$defs/name' },
        additionalProperties: {
          description: 'One prompt template.',
          type: 'object',
          additionalProperties: false,
          required: ['template'],
          properties: {
            template: { description: 'The prompt text, with `{{name}}` placeholders (at most 100000 characters).', type: 'string', minLength: 1, maxLength: 100_000 },
            variables: { $ref: '#/$defs/prompt_variables', description: 'Values of the placeholders, by name; a `prompt` interceptor may override them.' },
          },
        },
      },
      pricing: {
        description:
          'What tokens cost, in USD per 1M tokens, by model name. A default table for common OpenAI and Anthropic models ships ' +
          'with the gateway; entries here override or extend it. A dated model name (`gpt-4o-2024-08-06`) uses the entry it ' +
          'starts with. Budgets and cost-aware routing read it. At most 10000 entries.',
        type: 'object',
        maxProperties: 10_000,
        propertyNames: { minLength: 1 },
        additionalProperties: {
          description: 'The price of one model.',
          type: 'object',
          additionalProperties: false,
          required: ['input', 'output'],
          properties: {
            input: { description: 'USD per 1M prompt (input) tokens. Range: 0 to 1000000000.', type: 'number', minimum: 0, maximum: 1_000_000_000 },
            output: { description: 'USD per 1M completion (output) tokens. Range: 0 to 1000000000.', type: 'number', minimum: 0, maximum: 1_000_000_000 },
            cached_input: { description: 'USD per 1M input tokens read from the provider\'s prompt cache. Default: `input`. Range: 0 to 1000000000.', type: 'number', minimum: 0, maximum: 1_000_000_000 },
            cache_write: { description: 'USD per 1M input tokens written to the provider\'s prompt cache (Anthropic). Default: `input`. Range: 0 to 1000000000.', type: 'number', minimum: 0, maximum: 1_000_000_000 },
          },
        },
      },
      telemetry: telemetrySchema(),
      webhooks: webhooksSchema(),
      ...tenancyProperties(),
      mcp_servers: mcpServersSchema(),
    },
    $defs: { ...baseDefs(), ...tenantDefs(), features: featuresDef(), interceptors: interceptorsDef(), prompt_variables: promptVariablesDef() },
  };
}
