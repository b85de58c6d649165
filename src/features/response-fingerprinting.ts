import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { SseEvent, Stage } from '../pipeline/stage.js';
import { canonicalJson } from '../pipeline/request-key.js';
import { slot } from '../pipeline/slot.js';
import { answerOfBody, StreamAnswer } from '../formats/conversation.js';

export interface ResponseFingerprintingConfig {
  top?: number;
  max_tracked?: number;
  header?: boolean;
}

const DEFAULTS = { top: 10, max_tracked: 10_000, header: true };
/** Streamed text kept per request to fingerprint it (longer answers are fingerprinted by their start). */
const MAX_STREAM_TEXT = 1 << 20;
/** Distinct prompts and targets remembered per fingerprint (enough to tell "more than one"). */
const MAX_DISTINCT = 16;
const HEADER = 'x-sidegate-fingerprint';

interface Seen {
  count: number;
  readonly prompts: Set<string>;
  readonly targets: Set<string>;
  firstSeen: number;
  lastSeen: number;
  readonly sample: string;
}

interface FingerprintState {
  readonly prompt: string;
  stream: StreamAnswer | null;
  done: boolean;
}
const STATE = slot<FingerprintState>('response_fingerprinting');

/** Case, whitespace and surrounding blanks do not make two answers different. */
export function fingerprintOf(text: string): string {
  const normal = text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
  return hash('sha256', normal, 'hex').slice(0, 16);
}

function addBounded(set: Set<string>, value: string): void {
  if (set.size < MAX_DISTINCT) set.add(value);
}

/**
 * `response_fingerprinting`: a stable hash of each answer's normalised text, in
 * `X-Sidegate-Fingerprint` (non-streamed answers; a stream's is in the access line, since
 * its headers left before its text) and the access line. The router remembers recent
 * fingerprints (bounded LRU) and counts repeats: the same answer from more than one
 * target, or to more than one prompt, is a sign of a stuck or caching upstream;
 * `/stats` shows the top repeats and `ai_gateway_repeated_answers_total` counts them.
 */
class FingerprintStage implements Stage {
  readonly name = 'response_fingerprinting';
  private readonly seen: LRUCache<string, Seen>;
  private readonly top: number;
  private readonly header: boolean;
  private readonly repeats: Record<'other_prompt' | 'other_target', { inc(): void }>;
  private answers = 0;

  constructor(config: ResponseFingerprintingConfig, private readonly deps: CompileDeps) {
    this.seen = new LRUCache({ max: config.max_tracked ?? DEFAULTS.max_tracked });
    this.top = config.top ?? DEFAULTS.top;
    this.header = config.header ?? DEFAULTS.header;
    const counter = deps.metrics.localCounter(
      'ai_gateway_repeated_answers_total',
      'Answers identical (by fingerprint) to an earlier one given to another prompt (other_prompt) or by another target (other_target), by router.',
      ['router', 'kind'],
    );
    this.repeats = { other_prompt: counter.child(deps.routerName, 'other_prompt'), other_target: counter.child(deps.routerName, 'other_target') };
  }

  onRequest(ctx: RequestContext): void {
    const body = ctx.body;
    if (body === undefined) return;
    const asked = body.messages ?? body.prompt ?? body.input;
    const prompt = hash('sha256', `${ctx.format.name}\0${canonicalJson(asked ?? null)}`, 'hex').slice(0, 16);
    ctx.set(STATE, { prompt, stream: ctx.stream ? new StreamAnswer(ctx.format.name) : null, done: false });
  }

  onResponseBody(ctx: RequestContext, body: unknown): undefined {
    const state = ctx.get(STATE);
    const answer = state && !state.stream ? answerOfBody(ctx.format.name, body) : null;
    if (!state || !answer) return undefined;
    const fingerprint = this.record(ctx, state, answer.text);
    if (this.header && !ctx.res.headersSent) ctx.res.setHeader(HEADER, fingerprint);
    return undefined;
  }

  onChunk(ctx: RequestContext, event: SseEvent): undefined {
    const stream = ctx.get(STATE)?.stream;
    if (stream && stream.size < MAX_STREAM_TEXT) stream.push(event);
    return undefined;
  }

  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    if (!state?.stream || state.done || !ctx.completed || ctx.status !== 200) return;
    this.record(ctx, state, state.stream.text);
  }

  private record(ctx: RequestContext, state: FingerprintState, text: string): string {
    state.done = true;
    const fingerprint = fingerprintOf(text);
    ctx.note('fingerprint', fingerprint);
    if (ctx.status !== 0 && ctx.status !== 200) return fingerprint;
    this.answers++;
    const now = this.deps.now();
    const target = ctx.target?.upstream.name ?? '';
    const seen = this.seen.get(fingerprint);
    if (!seen) {
      this.seen.set(fingerprint, { count: 1, prompts: new Set([state.prompt]), targets: new Set([target]), firstSeen: now, lastSeen: now, sample: text.slice(0, 80) });
      return fingerprint;
    }
    seen.count++;
    seen.lastSeen = now;
    if (!seen.prompts.has(state.prompt)) {
      this.repeats.other_prompt.inc();
      ctx.note('repeated_answer', 'other_prompt');
    } else if (!seen.targets.has(target)) {
      this.repeats.other_target.inc();
      ctx.note('repeated_answer', 'other_target');
    }
    addBounded(seen.prompts, state.prompt);
    addBounded(seen.targets, target);
    return fingerprint;
  }

  stats(): Record<string, unknown> {
    const repeated = [...this.seen.entries()]
      .filter(([, s]) => s.count > 1 && (s.prompts.size > 1 || s.targets.size > 1))
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, this.top)
      .map(([fingerprint, s]) => ({
        fingerprint,
        count: s.count,
        prompts: s.prompts.size,
        targets: [...s.targets],
        first_seen: new Date(s.firstSeen).toISOString(),
        last_seen: new Date(s.lastSeen).toISOString(),
        sample: s.sample,
      }));
    return { answers: this.answers, tracked: this.seen.size, top_repeats: repeated };
  }
}

export const responseFingerprinting: FeatureModule<ResponseFingerprintingConfig> = {
  name: 'response_fingerprinting',
  order: ORDER.response_fingerprinting,
  describe: (c) => `a fingerprint of each answer${(c.header ?? DEFAULTS.header) ? ' in X-Sidegate-Fingerprint' : ''} and the access line; repeats across prompts and targets counted (${c.max_tracked ?? DEFAULTS.max_tracked} remembered)`,
  schema: {
    description:
      'A stable hash of each answer\'s text (case and whitespace folded) in `X-Sidegate-Fingerprint` (non-streamed answers) and ' +
      'the access line (`fingerprint`). Identical answers to different prompts, or from different targets, are counted ' +
      '(`ai_gateway_repeated_answers_total`, the access line\'s `repeated_answer`): a sign of a stuck or caching upstream. ' +
      '`/stats` shows the top repeats. Non-streamed JSON answers are buffered to read them.',
    type: 'object',
    additionalProperties: false,
    properties: {
      top: { description: 'How many repeated answers `/stats` lists (1 to 100). Default 10.', type: 'integer', minimum: 1, maximum: 100, default: DEFAULTS.top },
      max_tracked: { description: 'Recent fingerprints remembered (100 to 1000000), the least recent forgotten first. Default 10000.', type: 'integer', minimum: 100, maximum: 1_000_000, default: DEFAULTS.max_tracked },
      header: { description: 'Send `X-Sidegate-Fingerprint` on non-streamed answers. Default true.', type: 'boolean', default: DEFAULTS.header },
    },
  },
  create: (config, deps) => new FingerprintStage(config, deps),
};
