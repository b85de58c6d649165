import type { InterceptorModule } from '../features/feature.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { applySpans } from '../pipeline/text-window.js';
import { actionSchema, Findings } from './kit.js';
import { eachMatch, settle, type Detection } from '../pipeline/detections.js';
import { requestTextOf } from '../pipeline/request-text.js';

export interface PromptGuardConfig {
  action?: 'block' | 'redact' | 'log';
  threshold?: number;
}

const DEFAULTS = { action: 'block', threshold: 0.8 } as const;

/** The kinds of signal, as the metric and the access line name them. */
const SIGNALS = ['injection_phrase', 'jailbreak', 'role_override', 'encoded_payload', 'invisible_unicode'] as const;
type Signal = (typeof SIGNALS)[number];

interface Rule {
  readonly signal: Signal;
  readonly weight: number;
  readonly re: RegExp;
}

const rule = (signal: Signal, weight: number, source: string): Rule => ({ signal, weight, re: new RegExp(source, 'giu') });

/** Known phrasings of prompt injection and jailbreaks, and role overrides (chat-template tokens, fake system turns). */
const PHRASE_RULES: readonly Rule[] = [
  rule('injection_phrase', 0.9, String.raw`\b(?:ignore|disregard|forget|override|bypass|skip)\s+(?:all\s+|any\s+|the\s+|your\s+|my\s+|these\s+|those\s+)*(?:previous|prior|above|earlier|preceding|original|initial|system)\s+(?:instructions?|prompts?|rules|directions|guidelines|messages?|context)\b`),
  rule('injection_phrase', 0.85, String.raw`\b(?:reveal|print|show|repeat|output|display|leak|tell\s+me)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+prompt|initial\s+instructions|hidden\s+instructions|original\s+prompt|instructions\s+above)\b`),
  rule('injection_phrase', 0.6, String.raw`\bnew\s+instructions?\s*:`),
  rule('injection_phrase', 0.6, String.raw`\b(?:from\s+now\s+on|henceforth),?\s+you\s+(?:will|must|are)\b`),
  rule('jailbreak', 0.9, String.raw`\b(?:DAN|do\s+anything\s+now)\b.{0,40}\b(?:mode|prompt|jailbreak|no\s+restrictions)\b|\bjailbr(?:eak|oken)\b`),
  rule('jailbreak', 0.85, String.raw`\b(?:developer|god|debug|unrestricted|uncensored)\s+mode\s+(?:enabled|activated|on)\b`),
  rule('jailbreak', 0.75, String.raw`\b(?:pretend|imagine|act\s+as\s+if)\s+(?:that\s+)?you\s+(?:are|have|were)\s+(?:no\s+longer\s+bound|free\s+from|without|not\s+bound\s+by)\b`),
  rule('jailbreak', 0.7, String.raw`\b(?:without|no)\s+(?:any\s+)?(?:restrictions|filters|censorship|guidelines|safety\s+guidelines|content\s+policy)\b`),
  rule('role_override', 0.7, String.raw`<\|im_start\|>\s*system|<\|system\|>|<<SYS>>|\[/?INST\]|<\|start_header_id\|>\s*system`),
  rule('role_override', 0.6, String.raw`(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|assistant)\s*:\s*(?=\S)`),
  rule('role_override', 0.5, String.raw`\byou\s+are\s+now\s+(?:a|an|the|my)\b`),
];

/** Invisible characters: zero-width, bidirectional controls, and the Unicode tag block (hidden ASCII). */
const INVISIBLE = /[\u200B-\u200F\u2060-\u2064\u202A-\u202E\u2066-\u2069\uFEFF]|\uDB40[\uDC00-\uDC7F]/g;
const TAGS = /\uDB40[\uDC00-\uDC7F]/g;
/** A run of base64 long enough to hide a sentence. */
const BASE64 = /(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])/g;
/** The longest base64 run decoded, chars (a bound on the work per run). */
const MAX_DECODE = 8192;
const REMOVED = '[REMOVED]';

/** Text for matching: NFKC-folded (full-width letters, ligatures), invisible characters dropped. */
function normal(text: string): string {
  return text.normalize('NFKC').replace(INVISIBLE, '');
}

interface Verdict {
  score: number;
  /** The strongest signal. */
  signal: Signal;
}

interface Hit {
  signal: Signal;
  weight: number;
}

/** Adds a hit for every known phrasing in `text`; hidden text reports its hiding place (`as`) as the signal. */
function phrases(text: string, into: Hit[], as: Signal | null = null): void {
  for (const r of PHRASE_RULES) {
    eachMatch(r.re, text, () => into.push(as === null ? r : { signal: as, weight: r.weight }));
  }
}

/** A base64 run's text, when it decodes to printable text (not binary data). */
function decoded(run: string): string | null {
  if (run.length > MAX_DECODE) return null;
  const text = Buffer.from(run, 'base64').toString('utf8');
  return /^[\x20-\x7e\s]{16,}$/.test(text) ? text : null;
}

/**
 * Scores a text: each signal found has a weight, and they combine as independent
 * evidence (1 − Π(1 − w)), so several weak signals add up and one strong one is enough.
 * Hidden text (base64 runs that decode to printable text, Unicode tag characters) is
 * decoded and scored too, with a weight of its own for being hidden at all.
 */
export function scorePrompt(text: string): Verdict {
  const hits: Hit[] = [];
  let invisible = 0;
  eachMatch(INVISIBLE, text, () => void invisible++);
  if (invisible > 0) {
    hits.push({ signal: 'invisible_unicode', weight: invisible >= 3 ? 0.5 : 0.2 });
    const hidden = String.fromCharCode(...[...text.matchAll(TAGS)].map((m) => m[0].charCodeAt(1) - 0xdc00));
    if (hidden.length > 0) {
      hits.push({ signal: 'invisible_unicode', weight: 0.7 });
      phrases(hidden, hits, 'invisible_unicode');
    }
  }
  phrases(normal(text), hits);
  eachMatch(BASE64, text, (m) => {
    const words = decoded(m[0]);
    if (words === null) return;
    const before = hits.length;
    phrases(words, hits, 'encoded_payload');
    if (hits.length > before) hits.push({ signal: 'encoded_payload', weight: 0.6 });
  });
  let keep = 1;
  let strongest: Hit = { signal: 'injection_phrase', weight: 0 };
  for (const h of hits) {
    keep *= 1 - h.weight;
    if (h.weight > strongest.weight) strongest = h;
  }
  return { score: 1 - keep, signal: strongest.signal };
}

/** `redact`: the text folded and without invisible characters, less its known phrasings and encoded payloads. */
export function redactPrompt(text: string): string {
  const plain = normal(text);
  const spans: Detection[] = [];
  for (const r of PHRASE_RULES) {
    eachMatch(r.re, plain, (m) => spans.push({ start: m.index, end: m.index + m[0].length, category: r.signal, replacement: REMOVED }));
  }
  eachMatch(BASE64, plain, (m) => {
    const words = decoded(m[0]);
    if (words === null) return;
    const hits: Hit[] = [];
    phrases(words, hits);
    if (hits.length) spans.push({ start: m.index, end: m.index + m[0].length, category: 'encoded_payload', replacement: REMOVED });
  });
  return applySpans(plain, settle(spans));
}

/** Request side only: what the user and tools said (the system prompt is the operator's own). */
class PromptGuard implements Stage {
  readonly name = 'prompt_guard';

  constructor(
    private readonly action: 'block' | 'redact' | 'log',
    private readonly threshold: number,
    private readonly findings: Findings,
  ) {}

  onRequest(ctx: RequestContext): void {
    if (ctx.body === undefined) return;
    let changed = false;
    for (const part of requestTextOf(ctx)) {
      if (part.role === 'system' || part.role === 'assistant') continue;
      const verdict = scorePrompt(part.text);
      if (verdict.score < this.threshold) continue;
      this.findings.record(ctx, this.action, verdict.signal, 'request');
      ctx.note('prompt_guard_score', Math.round(verdict.score * 1000) / 1000);
      if (this.action === 'block') throw this.findings.blocked(verdict.signal, 'request');
      if (this.action === 'redact') {
        part.set(redactPrompt(part.text));
        changed = true;
      }
    }
    if (changed) ctx.markBodyChanged();
  }
}

export const promptGuard: InterceptorModule<PromptGuardConfig> = {
  name: 'prompt_guard',
  describe(config) {
    return `${config.action ?? DEFAULTS.action} prompts scoring ≥ ${config.threshold ?? DEFAULTS.threshold} for injection or jailbreak (request side)`;
  },
  schema: {
    description:
      'Prompt-injection and jailbreak detection on the request (user and tool texts): known phrasings ("ignore previous ' +
      'instructions", "developer mode enabled"…), role overrides (chat-template tokens, fake `system:` turns), payloads hidden ' +
      'in base64 or in invisible Unicode (zero-width, bidirectional controls, tag characters). Each signal has a weight; they ' +
      'combine into a score from 0 to 1 (`1 − Π(1 − weight)`), and a text scoring at or over `threshold` is acted on.',
    type: 'object',
    additionalProperties: false,
    properties: {
      action: actionSchema(
        ['block', 'redact', 'log'],
        DEFAULTS.action,
        ' `redact` removes the phrases, encoded payloads and invisible characters found and sends the rest.',
      ),
      threshold: {
        description: 'The score (0 to 1) at which a text is acted on. One strong phrasing scores 0.85–0.9; lower is stricter. Default `0.8`.',
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: DEFAULTS.threshold,
      },
    },
  },
  create(config, deps) {
    const action = config.action ?? DEFAULTS.action;
    return new PromptGuard(action, config.threshold ?? DEFAULTS.threshold, new Findings(deps, 'prompt_guard', [action], SIGNALS));
  },
};
