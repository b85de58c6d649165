/**
 * The schema as published in schemas/gateway.schema.json, for editors. An editor checks
 * the file as written, before `${VAR}` is read from the environment, so wherever a typed
 * value is expected (a duration, size, number, boolean, enum, URL, address) it also
 * accepts a string holding a `${VAR}` reference. The gateway itself validates against the
 * strict gatewaySchema(), after interpolation, so the value that comes from the
 * environment is still checked.
 */
import { gatewaySchema } from './schema.js';

type Schema = Record<string, unknown>;

export const ENV_REFERENCE_DEF = 'env_reference';

const ENV_REFERENCE: Schema = {
  title: '${VAR} reference',
  description:
    'A value read from the environment when the file is loaded: `${VAR}` or `${VAR:-default}`. ' +
    'The value it becomes is checked then.',
  type: 'string',
  pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}',
};

/** Keywords whose value maps names to schemas, walked into. */
const SCHEMA_MAPS = ['properties', '$defs'];
/** Keywords whose value is one schema, walked into. */
const SCHEMA_VALUES = ['items', 'additionalProperties'];
/** Keywords kept on the outside of a wrapped schema: they document the property. */
const ANNOTATIONS = ['title', 'description', 'default', 'examples', 'x-secret'];
const SCALAR_TYPES = new Set(['integer', 'number', 'boolean', 'string']);

/** A schema for one value whose text the editor cannot check: a typed scalar, an enum, a pattern, a composite. */
function isTypedLeaf(schema: Schema): boolean {
  if (schema.properties || schema.items) return false;
  if ('enum' in schema || 'const' in schema || 'oneOf' in schema || 'anyOf' in schema) return true;
  const type = schema.type;
  if (type === 'string') return typeof schema.pattern === 'string';
  return typeof type === 'string' && SCALAR_TYPES.has(type);
}

/** `schema`, or `anyOf: [schema, ${VAR}]` with its annotations kept outside. */
function wrap(schema: Schema): Schema {
  const inner: Schema = {};
  const outer: Schema = {};
  for (const [key, value] of Object.entries(schema)) (ANNOTATIONS.includes(key) ? outer : inner)[key] = value;
  return { ...outer, anyOf: [inner, { $ref: `#/$defs/${ENV_REFERENCE_DEF}` }] };
}

/**
 * Walks properties, items, additionalProperties and $defs (never into `if`, `not`,
 * `propertyNames` or the branches of a composite, whose meaning a wrap would change).
 */
function relax(schema: Schema): Schema {
  if (isTypedLeaf(schema)) return wrap(schema);
  const out: Schema = { ...schema };
  for (const key of SCHEMA_MAPS) {
    const map = schema[key] as Record<string, Schema> | undefined;
    if (map && typeof map === 'object') out[key] = Object.fromEntries(Object.entries(map).map(([name, s]) => [name, relax(s)]));
  }
  for (const key of SCHEMA_VALUES) {
    const value = schema[key];
    if (value && typeof value === 'object' && !Array.isArray(value)) out[key] = relax(value as Schema);
  }
  return out;
}

/** The published schema: gatewaySchema() with `${VAR}` accepted wherever a typed value goes. */
export function editorSchema(): Schema {
  const schema = relax(gatewaySchema());
  // The name pattern also checks map keys (propertyNames), which are never interpolated.
  const defs = schema.$defs as Record<string, Schema>;
  defs.name = (gatewaySchema().$defs as Record<string, Schema>).name!;
  defs[ENV_REFERENCE_DEF] = ENV_REFERENCE;
  return schema;
}
