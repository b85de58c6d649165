/**
 * The constants the gateway's code shares with its schema: the defaults the schema
 * documents, the name pattern and the schema's id. Their own small file, so that code
 * applying a default never loads the schema build (and with it every feature's module).
 */
import { LIMITS } from '../server/limits.js';

export const SCHEMA_ID = 'https://sidegate.dev/schemas/gateway.schema.json';

export const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]*$';

/**
 * The defaults the schema documents, for the code that applies them (the loader returns
 * the config as written; it does not fill defaults in).
 */
export const CONFIG_DEFAULTS = Object.freeze({
  listen: '127.0.0.1:8080',
  admin: '127.0.0.1:9090',
  max_body: '10mb',
  max_event: LIMITS.max_event,
  header_timeout: LIMITS.header_timeout,
  body_timeout: LIMITS.body_timeout,
  drain: '25s',
  log_level: 'info',
  access_log: true,
  state_backend: 'memory',
  redis_prefix: 'sidegate:',
  redis_timeout: '250ms',
  auth: 'passthrough',
  timeout: '60s',
  connections: 128,
  strategy: 'failover',
  otlp_protocol: 'http/protobuf',
  otlp_timeout: '10s',
  service_name: 'sidegate',
  trace_sample: 1,
  metrics_interval: '60s',
  webhook_timeout: '10s',
  webhook_max_attempts: 8,
  webhook_backoff: '1s',
  webhook_max_backoff: '5m',
  webhook_max_queue: 1000,
} as const);
