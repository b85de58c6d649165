/**
 * The data plane's bounds on what clients and upstreams send, in one place (the README's
 * limits table lists them). The configurable ones have their defaults here and their
 * ranges in the schema; the fixed ones are far above any legitimate request.
 */
import type { ServerConfig } from '../config/types.js';
import { parseDuration, parseSize } from '../util/units.js';

export const LIMITS = Object.freeze({
  /** `server.max_event`: the largest server-sent event buffered from an upstream. */
  max_event: '4mb',
  /** `server.timeouts.headers`: time to receive a request's line and headers. */
  header_timeout: '10s',
  /** `server.timeouts.body`: time to receive a request's body once its headers are in. */
  body_timeout: '60s',
  /** How deep a JSON request body may nest (objects and arrays). */
  json_depth: 128,
  /** The largest request head (line and headers), in bytes: Node's default, stated. */
  max_header_bytes: 16 * 1024,
  /** Rate-limit buckets the memory store keeps; past it the least recently used is forgotten. */
  memory_buckets: 100_000,
  /** The longest model name kept as a metric label (longer or unknown names are `other`). */
  label_length: 128,
});

/** The server limits of one config, parsed once per compile. */
export interface ServerLimits {
  readonly maxEvent: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
}

export function serverLimits(server: ServerConfig | undefined): ServerLimits {
  return Object.freeze({
    maxEvent: parseSize(server?.max_event ?? LIMITS.max_event),
    headersTimeoutMs: parseDuration(server?.timeouts?.headers ?? LIMITS.header_timeout),
    bodyTimeoutMs: parseDuration(server?.timeouts?.body ?? LIMITS.body_timeout),
  });
}
