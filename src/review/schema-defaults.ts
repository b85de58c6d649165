/**
 * The values a feature or upstream takes when a key is left out, read from the schema's
 * `default` annotations (the one place they are documented), so that tools showing a
 * config's effect (diff, warnings) see `retry: {}` and `retry: { attempts: 2 }` as equal.
 */
import { FEATURES } from '../features/registry.js';
import { INTERCEPTORS } from '../interceptors/registry.js';
import { gatewaySchema } from '../config/schema.js';
import type { SchemaFragment } from '../features/feature.js';

type Obj = Record<string, unknown>;

const isObject = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** `value` with every missing property that has a schema `default` filled in, recursively. */
export function withDefaults(value: unknown, schema: SchemaFragment | undefined): unknown {
  if (!isObject(value) || !schema || !isObject(schema.properties)) return value;
  const out: Obj = { ...value };
  for (const [key, property] of Object.entries(schema.properties as Record<string, SchemaFragment>)) {
    if (out[key] === undefined && property.default !== undefined) out[key] = structuredClone(property.default);
    else if (out[key] !== undefined) out[key] = withDefaults(out[key], property);
  }
  return out;
}

const featureSchemas = new Map(FEATURES.map((f) => [f.name, f.schema]));
const interceptorSchemas = new Map(INTERCEPTORS.map((i) => [i.name, i.schema]));

export function featureWithDefaults(name: string, config: unknown): unknown {
  return withDefaults(config, featureSchemas.get(name));
}

export function interceptorWithDefaults(name: string, config: unknown): unknown {
  return withDefaults(config, interceptorSchemas.get(name));
}

let upstreamSchema: SchemaFragment | undefined;

export function upstreamWithDefaults(config: unknown): unknown {
  upstreamSchema ??= (gatewaySchema().$defs as Record<string, SchemaFragment>).upstream;
  return withDefaults(config, upstreamSchema);
}

/** The schema default of one feature key (e.g. the cache's `key_headers`). */
export function featureDefault(name: string, key: string): unknown {
  const properties = featureSchemas.get(name)?.properties as Record<string, SchemaFragment> | undefined;
  return properties?.[key]?.default;
}
