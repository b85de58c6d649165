import type { InterceptorModule } from '../features/feature.js';
import type { RequestContext } from '../pipeline/context.js';
import type { SseEvent, Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { TextWindow, type Release, type WindowScanner } from '../pipeline/text-window.js';
import { actionSchema, Findings, streamWindowSchema } from './kit.js';
import { OldestKey } from '../util/oldest-key.js';
import { requestTextOf } from '../pipeline/request-text.js';

export interface PromptShieldConfig {
  action?: 'block' | 'log';
  ngram?: number;
  threshold?: number;
  stream_window?: number;
}

const DEFAULTS = { action: 'block', ngram: 5, threshold: 0.3, window: 64 } as const;
const CATEGORY = 'system_prompt';
/** System prompts whose n-grams are remembered, by text (they repeat from request to request). */
const MAX_REMEMBERED = 64;
/** Released answer text kept to join n-grams across deltas, chars. */
const TAIL = 512;
const WORD = /[\p{L}\p{N}]+/gu;

function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

function grams(list: readonly string[], n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + n <= list.length; i++) out.push(list.slice(i, i + n).join(' '));
  return out;
}

/** What one request's answer is checked against, and what it matched so far. */
interface Watch {
  readonly system: ReadonlySet<string>;
  readonly matched: Set<string>;
  /** The end of the answer text already released (streams). */
  tail: string;
  acted: boolean;
}

/**
 * Stops an answer that reveals the system prompt: the share of the system prompt's word
 * n-grams that the answer repeats (distinct ones), at or over `threshold`. Streams are read
 * through a TextWindow that holds `stream_window` characters back, so an answer is stopped
 * (its stream ends with an error event) before the text that crossed the line is sent.
 */
class PromptShield implements Stage, WindowScanner {
  readonly name = 'prompt_shield';
  private readonly watch = slot<Watch>('prompt-shield');
  private readonly remembered = new Map<string, ReadonlySet<string>>();
  private readonly oldestRemembered = new OldestKey(this.remembered);
  private readonly window: TextWindow;
  readonly onChunk: (ctx: RequestContext, event: SseEvent) => ReturnType<TextWindow['onChunk']>;
  readonly onStreamEnd: (ctx: RequestContext) => readonly SseEvent[];

  constructor(
    private readonly action: 'block' | 'log',
    private readonly n: number,
    private readonly threshold: number,
    private readonly hold: number,
    private readonly findings: Findings,
  ) {
    this.window = new TextWindow(this);
    this.onChunk = (ctx, event) => (ctx.has(this.watch) ? this.window.onChunk(ctx, event) : undefined);
    this.onStreamEnd = (ctx) => (ctx.has(this.watch) ? this.window.onStreamEnd(ctx) : []);
  }

  /** The system prompt's n-grams, remembered by text; null when it is too short to tell a leak from chance (under 2n words). */
  private systemGrams(text: string): ReadonlySet<string> | null {
    let set = this.remembered.get(text);
    if (set === undefined) {
      const list = words(text);
      set = new Set(list.length < 2 * this.n ? [] : grams(list, this.n));
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.oldestRemembered.take()!);
      this.remembered.set(text, set);
    }
    return set.size ? set : null;
  }

  onRequest(ctx: RequestContext): void {
    if (ctx.body === undefined) return;
    let system = '';
    for (const part of requestTextOf(ctx)) if (part.role === 'system') system += `${part.text}\n`;
    const set = system ? this.systemGrams(system) : null;
    if (set) ctx.set(this.watch, { system: set, matched: new Set(), tail: '', acted: false });
  }

  /** Adds the system n-grams `text` repeats; acts once the share crosses the threshold. */
  private check(ctx: RequestContext, watch: Watch, text: string): void {
    for (const g of grams(words(text), this.n)) if (watch.system.has(g)) watch.matched.add(g);
    if (watch.acted || watch.matched.size / watch.system.size < this.threshold) return;
    watch.acted = true;
    this.findings.record(ctx, this.action, CATEGORY, 'response');
    ctx.note('prompt_shield_overlap', Math.round((watch.matched.size / watch.system.size) * 1000) / 1000);
    if (this.action === 'block') throw this.findings.blocked(CATEGORY, 'response');
  }

  onResponseBody(ctx: RequestContext, body: unknown): undefined {
    const watch = ctx.get(this.watch);
    if (watch) for (const part of ctx.format.answerText(body)) this.check(ctx, watch, part.text);
    return undefined;
  }

  release(ctx: RequestContext, pending: string, final: boolean): Release {
    const watch = ctx.get(this.watch)!;
    this.check(ctx, watch, watch.tail + pending);
    const length = final ? pending.length : Math.max(0, pending.length - this.hold);
    watch.tail = (watch.tail + pending.slice(0, length)).slice(-TAIL);
    return { length, text: pending.slice(0, length) };
  }

  whole(_ctx: RequestContext, text: string): string {
    return text;
  }
}

export const promptShield: InterceptorModule<PromptShieldConfig> = {
  name: 'prompt_shield',
  describe(config) {
    return `${config.action ?? DEFAULTS.action} answers repeating ≥ ${(config.threshold ?? DEFAULTS.threshold) * 100}% of the system prompt's ${config.ngram ?? DEFAULTS.ngram}-word sequences (response side, streams included)`;
  },
  schema: {
    description:
      'Stops answers that reveal the system prompt: the share of the system prompt\'s word n-grams (distinct, case-folded) that ' +
      'the answer repeats. System prompts shorter than `2 × ngram` words are not checked (too short to tell a leak from chance).',
    type: 'object',
    additionalProperties: false,
    properties: {
      action: actionSchema(['block', 'log'], DEFAULTS.action, ' (A partial leak cannot be redacted meaningfully, so there is no `redact`.)'),
      ngram: { description: 'Words per n-gram (3 to 12). Default `5`.', type: 'integer', minimum: 3, maximum: 12, default: DEFAULTS.ngram },
      threshold: {
        description: 'The share of the system prompt\'s n-grams (0 to 1, exclusive of 0) an answer may not repeat. Default `0.3`.',
        type: 'number',
        exclusiveMinimum: 0,
        maximum: 1,
        default: DEFAULTS.threshold,
      },
      stream_window: streamWindowSchema(DEFAULTS.window),
    },
  },
  create(config, deps) {
    const action = config.action ?? DEFAULTS.action;
    return new PromptShield(
      action,
      config.ngram ?? DEFAULTS.ngram,
      config.threshold ?? DEFAULTS.threshold,
      config.stream_window ?? DEFAULTS.window,
      new Findings(deps, 'prompt_shield', [action], [CATEGORY]),
    );
  },
};
