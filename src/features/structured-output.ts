import { createHash } from 'node:crypto';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import { appendRepairTurns, requestedSchema, StreamAnswer, type Json } from '../formats/conversation.js';
import type { Metrics } from '../observability/metrics.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { SseEvent, Stage, UpstreamCall } from '../pipeline/stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { failureEvent, holdAnswer, isChatRequest, watchStream } from './answer-check.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import { notJsonStart } from '../util/json-start.js';

export interface StructuredOutputConfig {
  attempts?: number;
  on_failure?: 'error' | 'pass';
  buffer?: boolean;
  schema?: Json;
}

const DEFAULTS = { attempts: 2, on_failure: 'error', buffer: false } as const;
/** The largest JSON Schema a request may carry (serialized), and how many compiled ones are kept. */
const MAX_SCHEMA_BYTES = 256 * 1024;
const MAX_VALIDATORS = 256;
/** Errors listed per answer, in the repair turn and in the 422. */
const MAX_ERRORS = 10;
const HEADER = 'x-sidegate-structured-output';

/**
 * Validators for answer schemas. Requests carry their own schema, so one is compiled the
 * first time its schema is seen and kept by the schema's hash (most apps send a handful).
 * ajv compiles to code once; validating is a function call.
 */
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: true });
const validators = new LRUCache<string, ValidateFunction>({ max: MAX_VALIDATORS });

function compileSchema(schema: Json, text: string): ValidateFunction {
  const key = createHash('sha256').update(text).digest('base64url');
  let validate = validators.get(key);
  if (!validate) {
    try {
      validate = ajv.compile(schema);
    } finally {
      ajv.removeSchema(schema); // ajv keeps what it compiled; the LRU alone decides what stays
    }
    validators.set(key, validate);
  }
  return validate;
}

function describeError(e: ErrorObject): string {
  const where = e.instancePath === '' ? '(root)' : e.instancePath;
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
  return `${where} ${e.message ?? e.keyword}${extra}`;
}

/** What is wrong with an answer's text against a validator (null: it is valid). */
function validateText(text: string, validate: ValidateFunction | null): string[] | null {
  const notJson = notJsonStart(text);
  if (notJson !== null) return [`the answer is not valid JSON (${notJson})`];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return [`the answer is not valid JSON (${(err as Error).message})`];
  }
  if (validate === null || validate(value)) return null;
  return (validate.errors ?? []).slice(0, MAX_ERRORS).map(describeError);
}

function repairInstruction(errors: readonly string[]): string {
  return `Your previous answer did not match the required JSON schema:\n${errors.map((e) => `- ${e}`).join('\n')}\nAnswer again with only the corrected JSON.`;
}

/** The stream being validated as it passes (`buffer: false`). */
interface Watched {
  readonly answer: StreamAnswer;
  readonly validate: ValidateFunction | null;
}
const WATCHED = slot<Watched>('structured_output_stream');

class StructuredOutputStage implements Stage {
  readonly name = 'structured_output';
  /** One counter child per result, made once: labels() per answer would hash the labels each time. */
  private readonly results: Record<'valid' | 'repaired' | 'invalid', { inc(): void }>;
  private readonly counts = { valid: 0, repaired: 0, invalid: 0 };

  constructor(
    private readonly attempts: number,
    private readonly onFailure: 'error' | 'pass',
    private readonly buffer: boolean,
    /** The config's schema, compiled: used when a request carries none. */
    private readonly configured: ValidateFunction | null,
    router: string,
    metrics: Metrics,
  ) {
    const results = metrics.localCounter('ai_gateway_structured_output_total', 'Answers checked by structured_output, by router and result (`valid`, `repaired`: valid after a repair try, `invalid`).', ['router', 'result']);
    this.results = { valid: results.child(router, 'valid'), repaired: results.child(router, 'repaired'), invalid: results.child(router, 'invalid') };
  }

  /** The validator for this request: its own schema, else the config's; undefined when nothing asks for JSON. */
  private validatorFor(ctx: RequestContext): ValidateFunction | null | undefined {
    const asked = requestedSchema(ctx.format.name, ctx.body);
    if (asked === null) return this.configured ?? undefined;
    if (asked.schema === null) return this.configured;
    const text = JSON.stringify(asked.schema);
    if (text.length > MAX_SCHEMA_BYTES) {
      throw new GatewayError('invalid_request', `The answer's JSON Schema is larger than ${MAX_SCHEMA_BYTES} bytes.`, { param: 'response_format' });
    }
    try {
      return compileSchema(asked.schema, text);
    } catch (err) {
      throw new GatewayError('invalid_request', `The answer's JSON Schema is not valid: ${(err as Error).message}`, { param: 'response_format' });
    }
  }

  private count(result: 'valid' | 'repaired' | 'invalid'): void {
    this.counts[result]++;
    this.results[result].inc();
  }

  private invalid(errors: readonly string[], tries: number): GatewayError {
    return new GatewayError(
      'invalid_structured_output',
      `The answer did not match the JSON schema after ${tries} ${tries === 1 ? 'try' : 'tries'}: ${errors.join('; ')}.`,
    );
  }

  wrapCall(next: UpstreamCall): UpstreamCall {
    return async (ctx, attempt) => {
      if (!isChatRequest(ctx)) return next(ctx, attempt);
      const validate = this.validatorFor(ctx);
      if (validate === undefined) return next(ctx, attempt);
      if (ctx.stream && !this.buffer) {
        ctx.set(WATCHED, { answer: new StreamAnswer(ctx.format.name), validate });
        return next(ctx, attempt);
      }
      for (let n = 1; ; n++) {
        const held = await holdAnswer(ctx, await next(ctx, attempt));
        if (held.answer === null) return held.response;
        const errors = validateText(held.answer.text, validate);
        if (errors === null) {
          this.count(n === 1 ? 'valid' : 'repaired');
          ctx.note('structured_output', { result: 'valid', tries: n });
          return marked(held.response, 'valid');
        }
        if (n >= this.attempts || attempt.signal.aborted || ctx.body === undefined) {
          this.count('invalid');
          ctx.note('structured_output', { result: 'invalid', tries: n, errors });
          if (this.onFailure === 'error') throw this.invalid(errors, n);
          return marked(held.response, 'invalid');
        }
        // Ask again with the reasons: the rejected answer and a user turn listing what was wrong.
        appendRepairTurns(ctx.body, held.answer.text, repairInstruction(errors));
        ctx.markBodyChanged();
      }
    };
  }

  onChunk(ctx: RequestContext, event: SseEvent): SseEvent[] | undefined {
    const watched = ctx.get(WATCHED);
    if (!watched) return undefined;
    return watchStream(ctx, watched.answer, event, (whole) => {
      const errors = validateText(whole.text, watched.validate);
      if (errors === null) {
        this.count('valid');
        ctx.note('structured_output', { result: 'valid', tries: 1 });
        return undefined;
      }
      this.count('invalid');
      ctx.note('structured_output', { result: 'invalid', tries: 1, errors });
      // The client already has the text: with on_failure error it hears of the failure instead of the end.
      return this.onFailure === 'error' ? [failureEvent(ctx, this.invalid(errors, 1))] : undefined;
    });
  }

  stats(): Record<string, unknown> {
    return { ...this.counts, validators_cached: validators.size };
  }
}

/** Marks the answer in place: each try's response and its headers are this call's own (coalesced requests each get a copy, made outside). */
function marked(response: UpstreamResponse, result: 'valid' | 'invalid'): UpstreamResponse {
  response.headers[HEADER] = result;
  return response;
}

/**
 * `structured_output`: when the request asks for JSON (`response_format` json_schema or
 * json_object; Anthropic `output_format`) or the config names a `schema`, the answer is
 * validated with ajv. An invalid answer is tried again (up to `attempts` tries in all)
 * with the errors appended as a user turn; it sits outside fallback and retry
 * (STAGE_ORDER.structured_output) because each repair changes the request. Then 422
 * `invalid_structured_output` (`on_failure: error`) or the answer with
 * `x-sidegate-structured-output: invalid` (`pass`).
 */
export const structuredOutput: FeatureModule<StructuredOutputConfig> = {
  name: 'structured_output',
  order: ORDER.structured_output,
  describe(c) {
    const schema = c.schema ? "the request's JSON Schema, else the configured one" : "the request's JSON Schema (response_format / output_format)";
    return `validates answers against ${schema}; up to ${c.attempts ?? DEFAULTS.attempts} tries with the errors appended; then ${(c.on_failure ?? DEFAULTS.on_failure) === 'error' ? '422 invalid_structured_output' : 'passed through, marked invalid'}; streams ${c.buffer ? 'held until valid' : 'validated at their end'}`;
  },
  schema: {
    description:
      "Validates JSON answers against the request's `response_format.json_schema` (Anthropic: `output_format`) or the configured `schema`, and asks again with the validation errors when an answer is invalid. " +
      'The answer carries `x-sidegate-structured-output: valid` or `invalid`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      attempts: { description: 'Tries in all, the first included (1–5; 1: validate, never ask again). Default 2.', type: 'integer', minimum: 1, maximum: 5, default: DEFAULTS.attempts },
      on_failure: {
        description: 'When the last try is still invalid: `error` (default) answers 422 `invalid_structured_output` listing the errors; `pass` returns the answer marked `x-sidegate-structured-output: invalid`.',
        enum: ['error', 'pass'],
        default: DEFAULTS.on_failure,
      },
      buffer: {
        description: 'Streams: hold the whole stream until it validated, so an invalid one is tried again before the client saw any of it. Default false: a stream flows and is validated at its end (an invalid one ends with an SSE `error` event under `on_failure: error`).',
        type: 'boolean',
        default: DEFAULTS.buffer,
      },
      schema: {
        description: "A JSON Schema (draft 2020-12) for answers of requests that name none (a request's own schema wins); it also makes such requests' answers be validated.",
        type: 'object',
      },
    },
  },
  create(config, deps) {
    let configured: ValidateFunction | null = null;
    if (config.schema) {
      try {
        configured = compileSchema(config.schema, JSON.stringify(config.schema));
      } catch (err) {
        throw new Error(`routers.${deps.routerName}.features.structured_output.schema: not a valid JSON Schema (${(err as Error).message})`);
      }
    }
    return new StructuredOutputStage(config.attempts ?? DEFAULTS.attempts, config.on_failure ?? DEFAULTS.on_failure, config.buffer ?? DEFAULTS.buffer, configured, deps.routerName, deps.metrics);
  },
};
