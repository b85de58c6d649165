import { GatewayError } from '../errors.js';
import { StreamAnswer, type AnswerText } from '../formats/conversation.js';
import type { Counter } from 'prom-client';
import type { Metrics } from '../observability/metrics.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { SseEvent, Stage, UpstreamCall } from '../pipeline/stage.js';
import { failureEvent, holdAnswer, isChatRequest, watchStream } from './answer-check.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import { notJsonStart } from '../util/json-start.js';

export interface QualityGateConfig {
  min_chars?: number;
  max_chars?: number;
  must_match?: string | string[];
  must_not_match?: string | string[];
  json?: boolean;
  refusal?: boolean;
  buffer?: boolean;
}

const DEFAULTS = { min_chars: 1, refusal: true, json: false, buffer: false } as const;
const MAX_PATTERNS = 32;

/**
 * Common ways a model declines, at the start of its answer (English). An answer that
 * begins like this is a refusal; the model's own `refusal` field (OpenAI) is one too.
 */
const REFUSAL = new RegExp(
  String.raw`^\s*(?:(?:I['’]m|I am) (?:really |very )?sorry|I apologi[sz]e|Sorry|Unfortunately)?[,.!]?\s*(?:but\s+)?` +
    String.raw`(?:I\s+(?:can(?:no|['’])t|cannot|am unable to|['’]m unable to|am not able to|['’]m not able to|won['’]t|will not|must decline to)\s+` +
    String.raw`(?:help|assist|comply|provide|do that|do this|fulfil|fulfill|support|answer|create|generate|write|share|engage)` +
    String.raw`|As an AI(?: language model)?,? I (?:can(?:no|['’])t|cannot|am unable|don['’]t|do not))`,
  'i',
);
/** How much of an answer's start the refusal check reads. */
const REFUSAL_WINDOW = 400;

/** A pattern from the config: JavaScript regular expression syntax; a leading `(?i)` makes it case-insensitive. */
function compilePattern(source: string, where: string): RegExp {
  const insensitive = source.startsWith('(?i)');
  try {
    return new RegExp(insensitive ? source.slice(4) : source, insensitive ? 'iu' : 'u');
  } catch (err) {
    throw new Error(`${where}: ${JSON.stringify(source)} is not a valid regular expression (${(err as Error).message})`);
  }
}

function patterns(value: string | string[] | undefined, where: string): RegExp[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.map((p, i) => compilePattern(p, `${where}[${i}]`));
}

/** One failed check: its name (for metrics and the log) and what was wrong. */
export interface CheckFailure {
  readonly check: 'min_chars' | 'max_chars' | 'must_match' | 'must_not_match' | 'json' | 'refusal';
  readonly message: string;
}

/** The compiled checks of one `quality_gate`. */
export class QualityChecks {
  private readonly minChars: number;
  private readonly maxChars: number;
  private readonly mustMatch: RegExp[];
  private readonly mustNotMatch: RegExp[];
  private readonly json: boolean;
  private readonly refusal: boolean;

  constructor(config: QualityGateConfig, where: string) {
    this.minChars = config.min_chars ?? DEFAULTS.min_chars;
    this.maxChars = config.max_chars ?? Number.POSITIVE_INFINITY;
    this.mustMatch = patterns(config.must_match, `${where}.must_match`);
    this.mustNotMatch = patterns(config.must_not_match, `${where}.must_not_match`);
    this.json = config.json ?? DEFAULTS.json;
    this.refusal = config.refusal ?? DEFAULTS.refusal;
  }

  /** The checks `answer` fails (empty: it passes). An answer that only calls tools has no text to check. */
  run(answer: AnswerText): CheckFailure[] {
    const failures: CheckFailure[] = [];
    if (this.refusal && answer.refusal !== null) failures.push({ check: 'refusal', message: `the model refused: ${clip(answer.refusal)}` });
    const text = answer.text;
    if (answer.toolCalls && text.trim() === '') return failures;
    if (text.length < this.minChars) failures.push({ check: 'min_chars', message: `the answer has ${text.length} characters, fewer than min_chars ${this.minChars}` });
    if (text.length > this.maxChars) failures.push({ check: 'max_chars', message: `the answer has ${text.length} characters, more than max_chars ${this.maxChars}` });
    for (const re of this.mustMatch) if (!re.test(text)) failures.push({ check: 'must_match', message: `the answer does not match ${re.source}` });
    for (const re of this.mustNotMatch) if (re.test(text)) failures.push({ check: 'must_not_match', message: `the answer matches ${re.source}` });
    if (this.json && !isJson(text)) failures.push({ check: 'json', message: 'the answer is not valid JSON' });
    if (this.refusal && answer.refusal === null && REFUSAL.test(text.slice(0, REFUSAL_WINDOW))) {
      failures.push({ check: 'refusal', message: `the answer is a refusal: ${clip(text)}` });
    }
    return failures;
  }

  describe(): string {
    const parts: string[] = [`min_chars ${this.minChars}`];
    if (Number.isFinite(this.maxChars)) parts.push(`max_chars ${this.maxChars}`);
    if (this.mustMatch.length) parts.push(`must_match ${this.mustMatch.length} pattern(s)`);
    if (this.mustNotMatch.length) parts.push(`must_not_match ${this.mustNotMatch.length} pattern(s)`);
    if (this.json) parts.push('valid JSON');
    if (this.refusal) parts.push('no refusal');
    return parts.join(', ');
  }
}

function isJson(text: string): boolean {
  if (notJsonStart(text) !== null) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function clip(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(one.length > 80 ? `${one.slice(0, 80)}…` : one);
}

/** A stream being watched (`buffer: false`). */
const WATCHED = slot<StreamAnswer>('quality_gate_stream');

class QualityGateStage implements Stage {
  readonly name = 'quality_gate';
  private rejectedCount = 0;
  private passedCount = 0;
  private readonly failuresTotal: Counter;

  constructor(
    private readonly checks: QualityChecks,
    private readonly buffer: boolean,
    private readonly router: string,
    metrics: Metrics,
  ) {
    this.failuresTotal = metrics.counter('ai_gateway_quality_gate_failures_total', 'Answers a quality_gate rejected, by router, upstream and the check that failed.', ['router', 'upstream', 'check']);
  }

  private reject(ctx: RequestContext, upstream: string, failures: CheckFailure[]): GatewayError {
    this.rejectedCount++;
    for (const f of failures) this.failuresTotal.labels(this.router, upstream, f.check).inc();
    const seen = (ctx.notes?.quality_gate as string[] | undefined) ?? [];
    ctx.note('quality_gate', [...seen, ...failures.map((f) => `${upstream}:${f.check}`)]);
    return new GatewayError('answer_rejected', `The answer of upstream "${upstream}" failed the quality gate: ${failures.map((f) => f.message).join('; ')}.`);
  }

  wrapCall(next: UpstreamCall): UpstreamCall {
    return async (ctx, attempt) => {
      if (!isChatRequest(ctx)) return next(ctx, attempt);
      if (ctx.stream && !this.buffer) {
        ctx.set(WATCHED, new StreamAnswer(ctx.format.name));
        return next(ctx, attempt);
      }
      const held = await holdAnswer(ctx, await next(ctx, attempt));
      if (held.answer === null) return held.response;
      const failures = this.checks.run(held.answer);
      if (failures.length === 0) {
        this.passedCount++;
        return held.response;
      }
      throw this.reject(ctx, attempt.target.upstream.name, failures); // retry and fallback take it as a failed try
    };
  }

  onChunk(ctx: RequestContext, event: SseEvent): SseEvent[] | undefined {
    const answer = ctx.get(WATCHED);
    if (!answer) return undefined;
    return watchStream(ctx, answer, event, (whole) => {
      const failures = this.checks.run(whole);
      if (failures.length === 0) {
        this.passedCount++;
        return undefined;
      }
      // Too late to try again: the client has the text; it learns of the failure instead of the end.
      return [failureEvent(ctx, this.reject(ctx, ctx.target?.upstream.name ?? 'upstream', failures))];
    });
  }

  stats(): Record<string, unknown> {
    return { passed: this.passedCount, rejected: this.rejectedCount };
  }
}

/**
 * `quality_gate`: checks each answer (length, patterns, JSON, refusals). It sits inside
 * retry and fallback (STAGE_ORDER.quality_gate): a rejected answer is a failed try that
 * they act on with no `on:` entry, and the last one is a 502 `answer_rejected`. Streams
 * are checked at their end; with `buffer: true` a stream is held until it passed, so a
 * retry happens before anything reached the client.
 */
export const qualityGate: FeatureModule<QualityGateConfig> = {
  name: 'quality_gate',
  order: ORDER.quality_gate,
  describe(c) {
    const checks = new QualityChecks(c, 'quality_gate');
    return `rejects answers failing ${checks.describe()} (a failed try for retry and fallback); streams ${c.buffer ? 'held until checked' : 'checked at their end'}`;
  },
  schema: {
    description:
      'Rejects answers that fail simple checks. A rejected answer is a failed try: `retry` tries again and `fallback` moves to the next target ' +
      'without listing anything in `on:`; when every try failed, the client gets 502 `answer_rejected` naming the checks. Answers that only call tools pass. `{}` rejects empty answers and refusals.',
    type: 'object',
    additionalProperties: false,
    properties: {
      min_chars: { description: 'The fewest characters an answer may have (0–1000000). Default 1: an empty answer fails.', type: 'integer', minimum: 0, maximum: 1_000_000, default: DEFAULTS.min_chars },
      max_chars: { description: 'The most characters an answer may have (1–10000000). Default: no limit.', type: 'integer', minimum: 1, maximum: 10_000_000 },
      must_match: {
        description: `A regular expression (JavaScript syntax; a leading \`(?i)\` ignores case) the answer must match, or a list of them (at most ${MAX_PATTERNS}), all required.`,
        anyOf: [
          { type: 'string', minLength: 1, maxLength: 1000 },
          { type: 'array', minItems: 1, maxItems: MAX_PATTERNS, items: { type: 'string', minLength: 1, maxLength: 1000 } },
        ],
      },
      must_not_match: {
        description: `A regular expression the answer must not match, or a list of them (at most ${MAX_PATTERNS}).`,
        anyOf: [
          { type: 'string', minLength: 1, maxLength: 1000 },
          { type: 'array', minItems: 1, maxItems: MAX_PATTERNS, items: { type: 'string', minLength: 1, maxLength: 1000 } },
        ],
      },
      json: { description: 'The answer must be valid JSON. Default false.', type: 'boolean', default: DEFAULTS.json },
      refusal: { description: "Reject refusals: the model's `refusal` field, or an answer that starts like a common refusal (\"I'm sorry, but I can't help with that\"). Default true.", type: 'boolean', default: DEFAULTS.refusal },
      buffer: {
        description: 'Streams: hold the whole stream until it passed, so a failed one is retried before the client saw any of it. Default false: a stream flows and is checked at its end, where a failure becomes a final SSE `error` event.',
        type: 'boolean',
        default: DEFAULTS.buffer,
      },
    },
  },
  create(config, deps) {
    const checks = new QualityChecks(config, `routers.${deps.routerName}.features.quality_gate`);
    return new QualityGateStage(checks, config.buffer ?? DEFAULTS.buffer, deps.routerName, deps.metrics);
  },
};
