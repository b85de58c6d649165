/**
 * An evaluation set (`sidegate eval CASES.yaml`): cases with a request, the router or
 * model it goes to, an optional scripted answer for offline runs, and what the answer
 * must satisfy. Validated against its schema with line:column; regexes and JSON Schemas
 * are compiled here, once.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, type ConfigIssue } from '../config/load.js';
import { Locator, pathFromPointer } from '../config/positions.js';
import { NAME_PATTERN } from '../config/defaults.js';

/** At most this many cases in one file. */
export const MAX_CASES = 10_000;

export interface LlmExpectation {
  /** The router that judges the answer. */
  readonly router: string;
  /** What a good answer does, in words. */
  readonly rubric: string;
  /** The lowest score (0 to 1) that passes; default 0.7. */
  readonly threshold?: number;
  /** The judge's `model` (default: the router's name). */
  readonly model?: string;
  /** Offline: the judge's scripted answer, e.g. `{"score": 0.9, "reason": "polite"}`. */
  readonly mock?: string;
}

export interface Expectation {
  readonly exact?: string;
  readonly contains?: string | readonly string[];
  readonly not_contains?: string | readonly string[];
  readonly regex?: string;
  readonly json_schema?: Record<string, unknown>;
  readonly llm?: LlmExpectation;
  /** The HTTP status (default: any 2xx). */
  readonly status?: number;
  /** The upstream that must give the answer (`x-sidegate-target`). */
  readonly target?: string;
  /** The `model` the answer names (the model the target sent upstream). */
  readonly model?: string;
}

export interface EvalCase {
  readonly name: string;
  readonly router?: string;
  readonly model?: string;
  /** Default `/v1/chat/completions`. */
  readonly path?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly messages?: readonly Record<string, unknown>[];
  /** A raw request body, instead of `messages`. */
  readonly body?: Record<string, unknown>;
  /** Offline: the mock provider's answer to this case. */
  readonly mock?: string;
  readonly expect: Expectation;
  readonly tags?: readonly string[];
}

/** A case with what it needs at run time compiled. */
export interface CompiledCase extends EvalCase {
  readonly source: string;
  readonly tags: readonly string[];
  readonly pattern: RegExp | null;
  readonly schema: ValidateFunction | null;
}

const text = (description: string, extra: Record<string, unknown> = {}) => ({ description, type: 'string', ...extra });
const texts = (description: string) => ({
  description,
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1 } },
  ],
});

/** The schema of a cases file. */
export const CASES_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  title: 'sidegate evaluation cases',
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: {
    cases: { description: 'The cases, run in any order.', type: 'array', minItems: 1, maxItems: MAX_CASES, items: { $ref: '#/$defs/case' } },
  },
  $defs: {
    case: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'expect'],
      properties: {
        name: text('Unique in the file; names the case in reports.', { minLength: 1, maxLength: 200 }),
        description: text('What the case checks, for people.'),
        router: text('The router the request is pinned to (`/router/<name>/v1/...`).', { pattern: NAME_PATTERN }),
        model: text('The body\'s `model` (selects a router by name or alias, as a client would).', { minLength: 1 }),
        path: text('The endpoint, default `/v1/chat/completions`.', { pattern: '^/v1/[^\\s]*$' }),
        headers: { description: 'Request headers.', type: 'object', maxProperties: 64, additionalProperties: { type: 'string' } },
        messages: {
          description: 'The chat messages.',
          type: 'array',
          minItems: 1,
          maxItems: 1000,
          items: { type: 'object', required: ['role'], properties: { role: { type: 'string', minLength: 1 } } },
        },
        body: { description: 'A raw request body, instead of `messages`.', type: 'object' },
        mock: text('Offline: the answer the mock provider gives this case.'),
        expect: { $ref: '#/$defs/expect' },
        tags: { description: 'Labels to filter by (`--tag`) and to score by.', type: 'array', uniqueItems: true, items: { type: 'string', pattern: NAME_PATTERN } },
      },
      not: { required: ['messages', 'body'] },
      anyOf: [{ required: ['messages'] }, { required: ['body'] }],
    },
    expect: {
      description: 'What the answer must satisfy; every key given must hold.',
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        exact: text('The answer\'s text, exactly.'),
        contains: texts('Text (or texts) the answer contains.'),
        not_contains: texts('Text (or texts) the answer does not contain.'),
        regex: text('A regular expression (JavaScript) the answer matches.', { minLength: 1 }),
        json_schema: { description: 'The answer is JSON valid against this JSON Schema.', type: 'object' },
        status: { description: 'The HTTP status (default: any 2xx).', type: 'integer', minimum: 100, maximum: 599 },
        target: text('The upstream that gives the answer (`x-sidegate-target`).', { minLength: 1 }),
        model: text('The `model` the answer names (offline: the model the target sent to the mock).', { minLength: 1 }),
        llm: {
          description: 'A router judges the answer against a rubric.',
          type: 'object',
          additionalProperties: false,
          required: ['router', 'rubric'],
          properties: {
            router: text('The judging router.', { pattern: NAME_PATTERN }),
            rubric: text('What a good answer does.', { minLength: 1 }),
            threshold: { description: 'The lowest passing score, 0 to 1. Default 0.7.', type: 'number', minimum: 0, maximum: 1 },
            model: text('The judge\'s `model`; default the router\'s name.', { minLength: 1 }),
            mock: text('Offline: the judge\'s answer, e.g. `{"score": 0.9, "reason": "…"}`.'),
          },
        },
      },
    },
  },
} as const;

let validator: ValidateFunction | undefined;
let ajv: Ajv2020 | undefined;

function instance(): Ajv2020 {
  return (ajv ??= new Ajv2020({ allErrors: true, strict: false }));
}

function messageOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties':
      return `unknown key "${String(params.additionalProperty)}"`;
    case 'required':
      return `missing required key "${String(params.missingProperty)}"`;
    case 'not':
      return 'give either messages or body, not both';
    case 'anyOf':
      return error.instancePath.endsWith('/contains') || error.instancePath.endsWith('/not_contains')
        ? 'must be a text or a list of texts'
        : 'needs messages or a body';
    default:
      return error.message ?? `fails the "${error.keyword}" rule`;
  }
}

/** Loads a cases file's text; throws ConfigError listing every problem with its line:column. */
export function loadCases(yaml: string, source: string): CompiledCase[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yaml, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locator = new Locator(doc, lineCounter, source);
  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => ({ path: '', ...locator.at(e.pos[0]), message: `YAML syntax error: ${e.message}`, source })));
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as { cases: EvalCase[] };
  validator ??= instance().compile(CASES_SCHEMA);
  if (!validator(data)) {
    const errors = (validator.errors ?? []).filter((e) => e.keyword !== 'if');
    const anyOfAt = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
    // An anyOf explains itself: the errors of its branches are dropped.
    const branch = (e: ErrorObject) => /\/anyOf\/\d+\//.test(e.schemaPath) && [...anyOfAt].some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    const issues = errors.filter((e) => !branch(e)).map((e) => locator.issue(pathFromPointer(e.instancePath, data), messageOf(e)));
    throw new ConfigError(dedupe(issues));
  }
  const issues: ConfigIssue[] = [];
  const seen = new Map<string, number>();
  const cases = data.cases.map((c, i): CompiledCase => {
    const at = (...path: (string | number)[]) => ['cases', i, ...path];
    if (seen.has(c.name)) issues.push(locator.issue(at('name'), `"${c.name}" is also the name of cases[${seen.get(c.name)}]`));
    seen.set(c.name, i);
    let pattern: RegExp | null = null;
    if (c.expect.regex !== undefined) {
      try {
        pattern = new RegExp(c.expect.regex, 'u');
      } catch (err) {
        issues.push(locator.issue(at('expect', 'regex'), `not a valid regular expression: ${(err as Error).message}`));
      }
    }
    let schema: ValidateFunction | null = null;
    if (c.expect.json_schema !== undefined) {
      try {
        schema = instance().compile(c.expect.json_schema);
      } catch (err) {
        issues.push(locator.issue(at('expect', 'json_schema'), `not a valid JSON Schema: ${(err as Error).message}`));
      }
    }
    return { ...c, source, tags: c.tags ?? [], pattern, schema };
  });
  if (issues.length > 0) throw new ConfigError(issues);
  return cases;
}

function dedupe(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\0${i.message}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}
