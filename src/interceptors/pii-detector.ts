import type { InterceptorModule } from '../features/feature.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { applySpans, releaseSpans, TextWindow, type Release, type Span, type WindowScanner } from '../pipeline/text-window.js';
import { actionSchema, Findings, onSchema, streamWindowSchema, type Side } from './kit.js';
import { buildPiiDetector, DEFAULT_PHONE_COUNTRY, PII_ENTITIES, PII_WINDOW, type CustomPattern, type PiiEntity } from '../pii/patterns.js';
import { TextGuard } from './text-guard.js';
import type { Detector } from '../pipeline/detections.js';
import { requestTextOf } from '../pipeline/request-text.js';

export interface PiiDetectorConfig {
  entities?: PiiEntity[];
  action?: 'block' | 'redact' | 'log' | 'pseudonymize';
  on?: Side;
  custom?: CustomPattern[];
  phone_country?: string;
  stream_window?: number;
}

const DEFAULTS = { action: 'redact', on: 'request', phone_country: DEFAULT_PHONE_COUNTRY } as const;

/** One request's placeholders: value → placeholder (so a value repeated gets one), placeholder → value. */
interface Pseudonyms {
  readonly byValue: Map<string, string>;
  readonly byPlaceholder: Map<string, string>;
  readonly counts: Map<string, number>;
}

/**
 * `pseudonymize`: each value found in the request is replaced by a placeholder like
 * `[EMAIL_1]` (the same value, the same placeholder; numbered by first appearance, so a
 * conversation's earlier turns keep theirs), and the placeholders in the answer are put
 * back, in JSON answers and in streams (through a TextWindow, so a placeholder split over
 * two deltas is restored too). The model never sees the values; the client loses nothing.
 */
class Pseudonymizer implements Stage, WindowScanner {
  readonly name = 'pii_detector';
  private readonly state = slot<Pseudonyms>('pii-pseudonyms');
  private readonly window = new TextWindow(this);
  /** Finds placeholders this gateway may have made: `[EMAIL_12]`, `[EMPLOYEE_ID_3]`. */
  private readonly placeholder: RegExp;
  /** The longest placeholder, chars: what a stream holds back. */
  private readonly longest: number;

  constructor(
    private readonly detect: Detector,
    categories: readonly string[],
    private readonly findings: Findings,
  ) {
    const names = categories.map((c) => c.toUpperCase().replace(/[^A-Z0-9_]/g, '_'));
    this.placeholder = new RegExp(`\\[(?:${names.join('|')})_\\d{1,6}\\]`, 'g');
    this.longest = Math.max(...names.map((n) => n.length)) + 9;
  }

  onRequest(ctx: RequestContext): void {
    if (ctx.body === undefined) return;
    let state: Pseudonyms | undefined;
    for (const part of requestTextOf(ctx)) {
      const found = this.detect(part.text);
      if (found.length === 0) continue;
      state ??= { byValue: new Map(), byPlaceholder: new Map(), counts: new Map() };
      const spans: Span[] = found.map((d) => {
        const value = part.text.slice(d.start, d.end);
        let placeholder = state!.byValue.get(value);
        if (placeholder === undefined) {
          const n = (state!.counts.get(d.category) ?? 0) + 1;
          state!.counts.set(d.category, n);
          placeholder = `[${d.category.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}_${n}]`;
          state!.byValue.set(value, placeholder);
          state!.byPlaceholder.set(placeholder, value);
        }
        this.findings.record(ctx, 'pseudonymize', d.category, 'request');
        return { start: d.start, end: d.end, replacement: placeholder };
      });
      part.set(applySpans(part.text, spans));
    }
    if (state) {
      ctx.set(this.state, state);
      ctx.markBodyChanged();
    }
  }

  /** The placeholders of `text` this request made, as spans back to their values. */
  private restoring(ctx: RequestContext, text: string): Span[] {
    const state = ctx.get(this.state)!;
    const spans: Span[] = [];
    const re = this.placeholder;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const value = state.byPlaceholder.get(m[0]);
      if (value !== undefined) spans.push({ start: m.index, end: m.index + m[0].length, replacement: value });
    }
    return spans;
  }

  onResponseBody(ctx: RequestContext, body: unknown): unknown {
    if (!ctx.has(this.state)) return undefined;
    let changed = false;
    for (const part of ctx.format.answerText(body)) {
      const spans = this.restoring(ctx, part.text);
      if (spans.length) {
        part.set(applySpans(part.text, spans));
        changed = true;
      }
    }
    return changed ? body : undefined;
  }

  onChunk(ctx: RequestContext, event: Parameters<TextWindow['onChunk']>[1]): ReturnType<TextWindow['onChunk']> {
    return ctx.has(this.state) ? this.window.onChunk(ctx, event) : undefined;
  }

  onStreamEnd(ctx: RequestContext): ReturnType<TextWindow['onStreamEnd']> {
    return ctx.has(this.state) ? this.window.onStreamEnd(ctx) : [];
  }

  release(ctx: RequestContext, pending: string, final: boolean): Release {
    // Only an unclosed `[` in the last `longest` chars can start a placeholder still arriving.
    const open = pending.lastIndexOf('[');
    const window = open >= 0 && pending.length - open < this.longest && pending.indexOf(']', open) < 0 ? pending.length - open : 0;
    return releaseSpans(pending, final, window, this.restoring(ctx, pending));
  }

  whole(ctx: RequestContext, text: string): string {
    const spans = this.restoring(ctx, text);
    return spans.length ? applySpans(text, spans) : text;
  }
}

export const piiDetector: InterceptorModule<PiiDetectorConfig> = {
  name: 'pii_detector',
  describe(config) {
    const entities = config.entities ?? PII_ENTITIES;
    const custom = config.custom?.length ? ` + custom ${config.custom.map((c) => c.name).join(', ')}` : '';
    const action = config.action ?? DEFAULTS.action;
    const on = action === 'pseudonymize' ? 'request, restored in the answer' : (config.on ?? DEFAULTS.on);
    return `${action} ${entities.join(', ')}${custom} (on ${on})`;
  },
  schema: {
    description:
      'Finds personal data and secrets in the text the model reads (and, with `on: response`/`both`, in its answers, streams ' +
      'included, also when a value is split over two chunks). Runs in the gateway, with no service and no network call.',
    type: 'object',
    additionalProperties: false,
    properties: {
      entities: {
        description:
          'What to look for (default: all). `email`; `phone` (international numbers with `+`, and national ones of ' +
          '`phone_country`, validated by libphonenumber); `credit_card` (13–19 digits, a known issuer prefix and a valid Luhn ' +
          'checksum); `iban` (country length and mod-97 checksum); `ssn` (US, `123-45-6789`); `ip_address` (IPv4 and IPv6); ' +
          '`secret` (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Stripe, Google and Hugging Face keys, JWTs, PEM private ' +
          'keys, and the value of `password=` / `api_key:` style assignments).',
        type: 'array',
        uniqueItems: true,
        minItems: 1,
        items: { enum: [...PII_ENTITIES] },
      },
      action: actionSchema(
        ['block', 'redact', 'log', 'pseudonymize'],
        DEFAULTS.action,
        ' `redact` writes `[EMAIL]`, `[CREDIT_CARD]`…; `pseudonymize` replaces each value in the request by a stable ' +
          'placeholder (`[EMAIL_1]`: the same value gets the same one) and puts the values back in the answer the client ' +
          'gets, streams included, so the model never sees them (`on` does not apply).',
      ),
      on: onSchema(DEFAULTS.on, 'every text of the request, system prompt included'),
      custom: {
        description: 'Your own patterns, each reported (and redacted as `[NAME]`) under its name, e.g. `{ name: employee_id, pattern: "EMP-\\\\d{6}" }`. At most 50.',
        type: 'array',
        maxItems: 50,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'pattern'],
          properties: {
            name: {
              description: 'The category it is counted and redacted under (lower case; not one of the built-in entity names).',
              type: 'string',
              pattern: '^[a-z][a-z0-9_]{0,39}$',
              not: { enum: [...PII_ENTITIES] },
            },
            pattern: { description: 'A JavaScript regular expression (up to 500 characters).', type: 'string', minLength: 1, maxLength: 500, 'x-regex': true },
            flags: { description: 'Regular expression flags: any of `i`, `m`, `s`, `u`.', type: 'string', pattern: '^[imsu]{0,4}$' },
          },
        },
      },
      stream_window: streamWindowSchema(PII_WINDOW),
      phone_country: {
        description: 'The country (ISO 3166-1 alpha-2) whose national format numbers without a `+` are read in. Default `US`.',
        type: 'string',
        pattern: '^[A-Z]{2}$',
        default: DEFAULTS.phone_country,
      },
    },
  },
  create(config, deps) {
    const entities = config.entities ?? PII_ENTITIES;
    const custom = config.custom ?? [];
    const action = config.action ?? DEFAULTS.action;
    const detect = buildPiiDetector(entities, custom, config.phone_country ?? DEFAULTS.phone_country);
    const categories = [...entities, ...custom.map((c) => c.name)];
    const findings = new Findings(deps, 'pii_detector', [action], categories);
    if (action === 'pseudonymize') return new Pseudonymizer(detect, categories, findings);
    return new TextGuard({
      name: 'pii_detector',
      side: config.on ?? DEFAULTS.on,
      action,
      detect,
      window: config.stream_window ?? PII_WINDOW,
      requestRoles: null,
      findings,
    });
  },
};
