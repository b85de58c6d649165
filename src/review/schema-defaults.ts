/**
 * The values a feature or upstream takes when a key is left out, read from the schema's
 * `default` annotations (the one place they are documented), so that tools showing a
 * config's effect (diff, warnings) see `retry: {}` and `retry: { attempts: 2 }` as equal.
 * The schema is the one configs are checked against (schemaInUse()): reading it loads no
 * feature module.
 */
import { schemaInUse } from '../config/validate.js';
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

type Defs = Record<string, { properties?: Record<string, SchemaFragment>; items?: { properties?: Record<string, SchemaFragment> } }>;

const defs = (): Defs => schemaInUse().$defs as Defs;

/** A top-level section's schema (`server`, `logging`…). */
export function sectionSchema(name: string): SchemaFragment | undefined {
  return (schemaInUse().properties as Record<string, SchemaFragment>)[name];
}

function featureSchema(name: string): SchemaFragment | undefined {
  return defs().features?.properties?.[name];
}

export function featureWithDefaults(name: string, config: unknown): unknown {
  return withDefaults(config, featureSchema(name));
}

export function interceptorWithDefaults(name: string, config: unknown): unknown {
  return withDefaults(config, defs().interceptors?.items?.properties?.[name]);
}

export function upstreamWithDefaults(config: unknown): unknown {
  return withDefaults(config, defs().upstream as SchemaFragment | undefined);
}

/** The schema default of one feature key (e.g. the cache's `key_headers`). */
export function featureDefault(name: string, key: string): unknown {
  const properties = featureSchema(name)?.properties as Record<string, SchemaFragment> | undefined;
  return properties?.[key]?.default;
}
