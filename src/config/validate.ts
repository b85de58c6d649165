/**
 * Schema validation with ajv (draft 2020-12, allErrors, strict), and the translation of
 * ajv's errors into issues a person can act on: the YAML path and line:column, allowed
 * values, and "did you mean" for unknown keys and enum values.
 *
 * A valid config (every start, most reloads) is checked by the validator precompiled into
 * precompiled-validator.ts by `npm run schema`, so nothing is compiled at startup. Only
 * an invalid one compiles the schema (once per process) with ajv's verbose errors, to
 * explain every problem. Both come from that generated file (the verbose validator from
 * the schema text it carries), so checking a config never loads the schema build, which
 * imports every feature, interceptor and provider module.
 */
import type { Ajv2020, AnySchemaObject, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { newAjv } from './schema-ajv.js';
import { KIND_KEYWORD } from './schema-keywords.js';
import type { ConfigIssue } from './load.js';
import { SCHEMA_TEXT, validate as precompiled } from './precompiled-validator.js';
import { SCHEMA_ID } from './defaults.js';
import { pathFromPointer, toPointer, valueAt, type Locator } from './positions.js';
import { closest } from './suggest.js';
import { REDACTED, redactUrl } from './redact.js';
import { RANGE_KEYWORD } from './ranges.js';
import { echoable } from './echo.js';

let ajv: Ajv2020 | undefined;
let validator: ValidateFunction | undefined;
let compilations = 0;
/** Where each oneOf/anyOf array of the compiled schema sits (a JSON Pointer), found by identity. */
const compositePointers = new WeakMap<object, string>();

/** What a validation is called with (`this`): the instance paths of the x-secret values it passed. */
export interface ValidationContext {
  secrets: string[];
}

function instance(): Ajv2020 {
  return (ajv ??= newAjv({ verbose: true }));
}

/** Set by useSchema(): the schema configs are checked against instead of the generated one. */
let schemaOverride: AnySchemaObject | null = null;
let generatedSchema: AnySchemaObject | undefined;

/**
 * For a program that changes the feature or interceptor registries (the registry test):
 * configs are checked against `schema` (gatewaySchema() of its registries), compiled on
 * first use, instead of the validator `npm run schema` generated for the built-in ones.
 */
export function useSchema(schema: AnySchemaObject): void {
  schemaOverride = schema;
  ajv = undefined;
  validator = undefined;
  definitionValidators.clear();
  branchValidators.clear();
}

/** The gateway schema configs are checked against (read-only: callers must not change it). */
export function schemaInUse(): AnySchemaObject {
  return schemaOverride ?? (generatedSchema ??= JSON.parse(SCHEMA_TEXT) as AnySchemaObject);
}

/** The verbose validator of schemaInUse(): compiled on first use, then the same function every time. */
export function getValidator(): ValidateFunction {
  if (!validator) {
    const schema = schemaOverride ?? (JSON.parse(SCHEMA_TEXT) as AnySchemaObject);
    indexComposites(schema, '');
    validator = instance().compile(schema);
    compilations++;
  }
  return validator;
}

/** How many times this process compiled the gateway schema (0 while every config was valid, then 1). */
export function validatorCompilations(): number {
  return compilations;
}

export interface SchemaCheck {
  issues: ConfigIssue[];
  /** JSON Pointers of the values the schema marks x-secret. */
  secrets: string[];
}

export interface CheckContext {
  locator: Locator;
  /** Pointers of values that came from the environment (never shown in messages). */
  fromEnv: ReadonlySet<string>;
  /** Pointers whose interpolation failed (already reported; their schema errors are noise). */
  failed: ReadonlySet<string>;
}

/** Validate `data` against the gateway schema. */
export function checkSchema(data: unknown, context: CheckContext): SchemaCheck {
  const secrets: string[] = [];
  if (schemaOverride === null && precompiled.call({ secrets } satisfies ValidationContext, data)) return { issues: [], secrets };
  return checkWith(getValidator(), data, context);
}

const definitionValidators = new Map<string, ValidateFunction>();

/** Validate `data` against one of the gateway schema's `$defs` (e.g. the list of a keys file), with the verbose validator. */
export function checkDefinition(def: string, data: unknown, context: CheckContext): SchemaCheck {
  let validate = definitionValidators.get(def);
  if (!validate) {
    getValidator();
    validate = instance().getSchema(`${SCHEMA_ID}#/$defs/${def}`);
    if (!validate) throw new Error(`the gateway schema has no definition "${def}"`);
    definitionValidators.set(def, validate);
  }
  return checkWith(validate, data, context);
}

function checkWith(validate: ValidateFunction, data: unknown, context: CheckContext): SchemaCheck {
  const secrets: string[] = [];
  if (validate.call({ secrets } satisfies ValidationContext, data)) return { issues: [], secrets };
  const errors = simplify(validate.errors ?? [], data);
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (isUnder(error.instancePath, context.failed)) continue;
    const issue = toIssue(error, data, context);
    if (!issue) continue;
    const key = `${issue.path}\0${issue.message}\0${issue.line}:${issue.column}`;
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  if (issues.length === 0 && context.failed.size === 0) {
    issues.push(context.locator.issue([], 'does not match the gateway schema')); // never expected; keeps a bad config from passing
  }
  return { issues, secrets };
}

function isUnder(pointer: string, set: ReadonlySet<string>): boolean {
  for (const p of set) if (under(pointer, p)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------
// oneOf / anyOf: instead of every branch's errors, either the errors of the one branch the
// value was evidently meant for, or one "must be one of: …" line.

const COMPOSITES = new Set(['oneOf', 'anyOf']);
const SHAPE_MISMATCH = new Set(['type', 'const', 'enum', 'false schema']);
const branchValidators = new Map<string, ValidateFunction | undefined>();

/**
 * ajv's schemaPath of an error does not locate its keyword in the root schema (it restarts
 * at every $ref that is compiled to its own function), but `error.schema` is the keyword's
 * value itself: its identity finds the pointer, from which each branch can be compiled.
 */
function indexComposites(node: unknown, pointer: string): void {
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    const at = pointer + encodeURIComponent(toPointer([key])).replace(/%2F/g, '/');
    if (COMPOSITES.has(key) && Array.isArray(value) && !Array.isArray(node)) compositePointers.set(value, at);
    indexComposites(value, at);
  }
}

function branchValidator(pointer: string): ValidateFunction | undefined {
  if (!branchValidators.has(pointer)) {
    let validate: ValidateFunction | undefined;
    try {
      validate = instance().getSchema(`${SCHEMA_ID}#${pointer}`);
    } catch {
      validate = undefined; // then the composite is summarized instead
    }
    branchValidators.set(pointer, validate);
  }
  return branchValidators.get(pointer);
}

function under(pointer: string, parent: string): boolean {
  return pointer === parent || pointer.startsWith(`${parent}/`);
}

/**
 * Replace the errors of each outermost oneOf/anyOf (and everything ajv reported below its
 * instance) by a re-validation of the value against each branch alone: when exactly one
 * branch fits the value's shape best, its errors (simplified again); else a summary error.
 */
function simplify(errors: ErrorObject[], root: unknown): ErrorObject[] {
  const composites = errors.filter((e) => COMPOSITES.has(e.keyword));
  const outer = composites.filter(
    // ajv reports a composite after the errors of its branches: at one instance, the last is outermost.
    (c, i) => !composites.some((o, j) => (o.instancePath !== c.instancePath ? under(c.instancePath, o.instancePath) : j > i)),
  );
  if (outer.length === 0) return errors;
  const result = errors.filter((e) => !outer.some((c) => under(e.instancePath, c.instancePath)));
  for (const c of outer) {
    const pointer = compositePointers.get(c.schema as object);
    if (pointer === undefined) {
      result.push(c);
      continue;
    }
    const value = valueAt(root, pathFromPointer(c.instancePath, root));
    const branches = (c.schema as unknown[]).map((_, i) => {
      const validate = branchValidator(`${pointer}/${i}`);
      if (!validate) return null; // cannot tell: counts as a mismatch
      if (validate.call({ secrets: [] } satisfies ValidationContext, value)) return [];
      return (validate.errors ?? []).map((e) => ({ ...e, instancePath: c.instancePath + e.instancePath }));
    });
    const chosen = bestBranch(branches, c.instancePath);
    if (chosen === undefined) result.push(c);
    else result.push(...simplify(branches[chosen]!, root));
  }
  return result;
}

/** 3: every error is below the value (its shape fits); 2: errors on the value itself; 1: wrong type; 0: passed. */
function fit(errors: ErrorObject[] | null, at: string): number {
  if (errors === null) return 1;
  if (errors.length === 0) return 0;
  const own = errors.filter((e) => e.instancePath === at);
  if (own.some((e) => SHAPE_MISMATCH.has(e.keyword))) return 1;
  return own.length > 0 ? 2 : 3;
}

function bestBranch(branches: (ErrorObject[] | null)[], at: string): number | undefined {
  const fits = branches.map((errors) => fit(errors, at));
  const top = Math.max(...fits);
  if (top < 2) return undefined;
  const candidates = fits.flatMap((f, i) => (f === top ? [i] : []));
  if (candidates.length === 1) return candidates[0];
  const own = candidates.map((i) => branches[i]!.filter((e) => e.instancePath === at).length);
  const fewest = Math.min(...own);
  const best = candidates.filter((_, k) => own[k] === fewest);
  return best.length === 1 ? best[0] : undefined;
}

// ---------------------------------------------------------------------------------------
// One ajv error → one issue.

const TYPE_NAMES: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'empty',
};

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  return 'a string'; // never the text itself: a misplaced credential would be printed
}

function quote(text: string): string {
  const shown = redactUrl(text);
  return JSON.stringify(shown.length > 60 ? `${shown.slice(0, 57)}...` : shown);
}

function describeSchema(schema: unknown, index: number): string {
  if (typeof schema !== 'object' || schema === null) return `alternative ${index + 1}`;
  const s = schema as AnySchemaObject;
  if (typeof s.title === 'string') return s.title;
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(', ');
  if (typeof s.type === 'string') return TYPE_NAMES[s.type] ?? s.type;
  return `alternative ${index + 1}`;
}

function toIssue(error: ErrorObject, root: unknown, context: CheckContext): ConfigIssue | undefined {
  const { locator } = context;
  const path = pathFromPointer(error.instancePath, root);
  const parent = (error.parentSchema ?? {}) as AnySchemaObject;
  const params = error.params as Record<string, unknown>;
  const fromEnv = context.fromEnv.has(error.instancePath);
  const show = (value: unknown, suggestion?: string): string =>
    fromEnv ? JSON.stringify(REDACTED) : typeof value !== 'string' ? JSON.stringify(value) : echoable(value, parent, suggestion) ? quote(value) : 'the value';
  /** `(got …)`: a string is quoted only when it is a near miss of an allowed word (never a credential). */
  const got = (suggestion?: string): string =>
    ` (got ${fromEnv ? 'a value from the environment' : typeof error.data === 'string' && suggestion !== undefined && echoable(error.data, parent, suggestion) ? `the string ${quote(error.data)}` : kindOf(error.data)})`;
  const kind = typeof parent[KIND_KEYWORD] === 'string' ? (parent[KIND_KEYWORD] as string) : undefined;
  /** The closest of the allowed string values to the (string) value given. */
  const suggestAmong = (allowed: unknown[]): string | undefined =>
    typeof error.data === 'string' && !fromEnv
      ? closest(error.data, allowed.filter((v): v is string => typeof v === 'string'))
      : undefined;

  // A map key that is not a valid name (propertyNames): ajv reports the key's own error.
  const propertyName = (error as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    return locator.issue(path, `${quote(propertyName)} is not a valid ${typeof parent.title === 'string' ? parent.title : 'key'}${examples(parent)}`, {
      key: propertyName,
    });
  }

  switch (error.keyword) {
    case 'propertyNames':
    case 'if':
      return undefined; // the errors that explain it are reported on their own
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((parent.properties as object | undefined) ?? {});
      const suggestion = closest(key, allowed);
      let message = `unknown ${kind ?? 'key'} ${quote(key)}`;
      if (!suggestion) {
        message += allowed.length > 0 ? `; expected one of: ${allowed.join(', ')}` : `; this build has no ${kind ?? 'key'}s`;
      }
      return locator.issue(path, message, { key, suggestion });
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const conditional = /\/(then|else)\//.test(error.schemaPath) && typeof parent.description === 'string';
      return locator.issue(path, `missing required key ${quote(missing)}${conditional ? `, ${parent.description}` : ''}`);
    }
    case 'type':
      return locator.issue(path, `must be ${String(params.type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ')}${got()}`);
    case 'enum': {
      const allowed = (error.schema as unknown[]) ?? [];
      const suggestion = suggestAmong(allowed);
      const message =
        allowed.length === 1
          ? `must be ${JSON.stringify(allowed[0])}${got()}`
          : `${show(error.data, suggestion)} is not one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
      return locator.issue(path, message, { suggestion });
    }
    case 'const':
      return locator.issue(path, `must be ${JSON.stringify(params.allowedValue)}${got()}`);
    case 'pattern': {
      const what = typeof parent.title === 'string' ? `a valid ${parent.title}` : `text matching ${String(params.pattern)}`;
      return locator.issue(path, `${show(error.data)} is not ${what}${examples(parent)}`);
    }
    case 'minimum':
      return locator.issue(path, `must be at least ${String(params.limit)}${got()}`);
    case 'maximum':
      return locator.issue(path, `must be at most ${String(params.limit)}${got()}`);
    case 'exclusiveMinimum':
      return locator.issue(path, `must be greater than ${String(params.limit)}${got()}`);
    case 'exclusiveMaximum':
      return locator.issue(path, `must be less than ${String(params.limit)}${got()}`);
    case 'minItems':
      return locator.issue(path, params.limit === 1 ? 'must list at least one item' : `must list at least ${String(params.limit)} items`);
    case 'maxItems':
      return locator.issue(path, `must list at most ${String(params.limit)} items`);
    case 'minProperties':
      return locator.issue(path, kind ? `must name one ${kind}` : params.limit === 1 ? 'must have at least one entry' : `must have at least ${String(params.limit)} entries`);
    case 'maxProperties':
      return locator.issue(path, kind ? `must name exactly one ${kind}; put each ${kind} in its own list item` : `must have at most ${String(params.limit)} entries`);
    case 'minLength':
      return locator.issue(path, params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters long`);
    case 'maxLength':
      return locator.issue(path, `must be at most ${String(params.limit)} characters long`);
    case 'uniqueItems': {
      const index = Math.max(Number(params.i), Number(params.j));
      const itemPath = [...path, index];
      const item = valueAt(root, itemPath);
      const shown = typeof item === 'string' && !context.fromEnv.has(toPointer(itemPath)) ? quote(item) : 'this item';
      return locator.issue(itemPath, `${shown} is listed twice`);
    }
    case 'oneOf':
    case 'anyOf': {
      const branches = (error.schema as unknown[]) ?? [];
      const ambiguous = Array.isArray(params.passingSchemas);
      const values = branches.flatMap((b) => {
        const s = (b ?? {}) as AnySchemaObject;
        return [s.const, ...(Array.isArray(s.enum) ? s.enum : [])];
      });
      const message = `${ambiguous ? 'matches more than one of' : 'must be one of'}: ${branches.map(describeSchema).join(', ')}`;
      const suggestion = suggestAmong(values);
      return locator.issue(path, ambiguous ? message : message + got(suggestion), { suggestion });
    }
    case 'not':
    case 'false schema':
      return locator.issue(path, 'is not allowed here');
    case 'dependentRequired':
      return locator.issue(path, `${quote(String(params.property))} also needs ${quote(String(params.missingProperty))}`);
    case RANGE_KEYWORD:
      // The value matched the duration or size format, so it is short and structural: safe to print.
      return locator.issue(path, `must be between ${String(params.min)} and ${String(params.max)} (got ${fromEnv ? 'a value from the environment' : quote(String(error.data))})`);
    case 'multipleOf':
      return locator.issue(path, `must be a multiple of ${String(params.multipleOf)}${got()}`);
    default:
      return locator.issue(path, error.message ?? `fails the schema's "${error.keyword}" rule`);
  }
}

function examples(schema: AnySchemaObject): string {
  return Array.isArray(schema.examples) && schema.examples.length > 0
    ? `, e.g. ${schema.examples.slice(0, 3).map((e) => (e === '' ? '""' : String(e))).join(', ')}`
    : '';
}
