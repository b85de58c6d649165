import type { InterceptorModule } from '../features/feature.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';

export interface TransformConfig {
  set?: Record<string, unknown>;
  default?: Record<string, unknown>;
  remove?: string[];
  rename?: Record<string, string>;
  headers?: { set?: Record<string, string>; remove?: string[] };
}

type Path = readonly string[];

/** `a.b.c` → ['a', 'b', 'c'] (a field of a nested object). */
const pathOf = (field: string): Path => field.split('.');

/** A value for the body: primitives as they are, objects copied per request (the config is frozen). */
function valueOf(value: unknown): () => unknown {
  return value !== null && typeof value === 'object' ? () => structuredClone(value) : () => value;
}

type Obj = Record<string, unknown>;

/** The object that holds the path's last field, made when `create` is set; null when it is not there. */
function holder(body: Obj, path: Path, create: boolean): Obj | null {
  let at: Obj = body;
  for (let i = 0; i < path.length - 1; i++) {
    const next = at[path[i]!];
    if (next !== null && typeof next === 'object' && !Array.isArray(next)) at = next as Obj;
    else if (create && next === undefined) at = (at[path[i]!] = {}) as Obj;
    else return null;
  }
  return at;
}

interface Op {
  readonly path: Path;
  readonly value: () => unknown;
}

/**
 * `transform`: edits the request before it goes on. Body fields (dotted paths reach into
 * objects) are renamed, removed, defaulted and set, in that order; headers sent upstream
 * are set and removed. Applies to every request of the router (headers) and every JSON
 * body (fields).
 */
class Transform implements Stage {
  readonly name = 'transform';
  private readonly set: readonly Op[];
  private readonly defaults: readonly Op[];
  private readonly remove: readonly Path[];
  private readonly rename: readonly (readonly [Path, Path])[];
  private readonly setHeaders: readonly (readonly [string, string])[];
  private readonly removeHeaders: readonly string[];

  constructor(config: TransformConfig) {
    this.set = Object.entries(config.set ?? {}).map(([k, v]) => ({ path: pathOf(k), value: valueOf(v) }));
    this.defaults = Object.entries(config.default ?? {}).map(([k, v]) => ({ path: pathOf(k), value: valueOf(v) }));
    this.remove = (config.remove ?? []).map(pathOf);
    this.rename = Object.entries(config.rename ?? {}).map(([from, to]) => [pathOf(from), pathOf(to)] as const);
    this.setHeaders = Object.entries(config.headers?.set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
    this.removeHeaders = (config.headers?.remove ?? []).map((h) => h.toLowerCase());
  }

  onRequest(ctx: RequestContext): void {
    const headers = ctx.req.headers;
    for (const name of this.removeHeaders) delete headers[name];
    for (const [name, value] of this.setHeaders) headers[name] = value;
    const body = ctx.body;
    if (body === undefined) return;
    let changed = false;
    for (const [from, to] of this.rename) {
      const src = holder(body, from, false);
      const key = from[from.length - 1]!;
      if (!src || !Object.hasOwn(src, key)) continue;
      const dst = holder(body, to, true);
      if (!dst) continue;
      dst[to[to.length - 1]!] = src[key];
      delete src[key];
      changed = true;
    }
    for (const path of this.remove) {
      const at = holder(body, path, false);
      const key = path[path.length - 1]!;
      if (at && Object.hasOwn(at, key)) {
        delete at[key];
        changed = true;
      }
    }
    for (const { path, value } of this.defaults) {
      const at = holder(body, path, true);
      const key = path[path.length - 1]!;
      if (at && at[key] === undefined) {
        at[key] = value();
        changed = true;
      }
    }
    for (const { path, value } of this.set) {
      const at = holder(body, path, true);
      if (at) {
        at[path[path.length - 1]!] = value();
        changed = true;
      }
    }
    if (changed) {
      ctx.markBodyChanged();
      if (typeof body.model === 'string' && body.model !== ctx.requestedModel) ctx.modelOverride = body.model; // a set `model` is sent whatever the target says
      ctx.stream = body.stream === true;
    }
  }
}

const FIELD = { type: 'string', pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+){0,7}$', description: 'A body field; dots reach into objects (`stream_options.include_usage`).' };
const HEADER_NAME = '^(?!(host|content-length|transfer-encoding|connection|keep-alive|upgrade|te|trailer)$)[a-z0-9!#$%&\'*+.^_`|~-]+$';

export const transform: InterceptorModule<TransformConfig> = {
  name: 'transform',
  describe(config) {
    const parts: string[] = [];
    if (config.rename && Object.keys(config.rename).length) parts.push(`rename ${Object.entries(config.rename).map(([a, b]) => `${a}→${b}`).join(', ')}`);
    if (config.remove?.length) parts.push(`remove ${config.remove.join(', ')}`);
    if (config.default && Object.keys(config.default).length) parts.push(`default ${Object.keys(config.default).join(', ')}`);
    if (config.set && Object.keys(config.set).length) parts.push(`set ${Object.keys(config.set).join(', ')}`);
    if (config.headers?.set && Object.keys(config.headers.set).length) parts.push(`set headers ${Object.keys(config.headers.set).join(', ')}`);
    if (config.headers?.remove?.length) parts.push(`remove headers ${config.headers.remove.join(', ')}`);
    return parts.join('; ') || 'nothing';
  },
  schema: {
    description:
      'Edits each request before it goes on: body fields are renamed, removed, defaulted, then set (in that order; dotted names reach ' +
      'into objects), and upstream request headers are removed, then set. `set` overrides what the client sent, `default` fills only ' +
      'what is missing.',
    type: 'object',
    additionalProperties: false,
    properties: {
      set: {
        description: 'Fields to write whatever the client sent, e.g. `{ temperature: 0.2 }`. At most 100.',
        type: 'object',
        maxProperties: 100,
        propertyNames: FIELD,
      },
      default: {
        description: 'Fields to write only when the client sent none, e.g. `{ user: anon }`. At most 100.',
        type: 'object',
        maxProperties: 100,
        propertyNames: FIELD,
      },
      remove: { description: 'Fields to drop, e.g. `[logprobs]`. At most 100.', type: 'array', maxItems: 100, items: FIELD },
      rename: {
        description: 'Fields to move: `{ old: new }`, e.g. `{ max_tokens: max_completion_tokens }`. At most 100.',
        type: 'object',
        maxProperties: 100,
        propertyNames: FIELD,
        additionalProperties: FIELD,
      },
      headers: {
        description: 'Request headers sent upstream (not host, content-length or hop-by-hop headers).',
        type: 'object',
        additionalProperties: false,
        properties: {
          set: {
            description: 'Headers to send, by lower-case name. Values are redacted in /config and logs (they may be credentials). At most 50.',
            type: 'object',
            maxProperties: 50,
            propertyNames: { type: 'string', pattern: HEADER_NAME, description: 'A lower-case header name.' },
            additionalProperties: { type: 'string', maxLength: 8192, 'x-secret': true, description: 'The header value.' },
          },
          remove: {
            description: 'Headers not to send, by lower-case name. At most 50.',
            type: 'array',
            maxItems: 50,
            items: { type: 'string', pattern: HEADER_NAME, description: 'A lower-case header name.' },
          },
        },
      },
    },
  },
  create: (config) => new Transform(config),
};
