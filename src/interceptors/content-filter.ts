import type { InterceptorModule } from '../features/feature.js';
import { actionSchema, Findings, onSchema, streamWindowSchema, type Side } from './kit.js';
import { CONTENT_CATEGORIES, termsRegex } from './content-lists.js';
import { eachMatch, settle, type Detection } from '../pipeline/detections.js';
import { TextGuard } from './text-guard.js';

export interface ContentFilterConfig {
  categories?: string[];
  terms?: string[];
  patterns?: string[];
  action?: 'block' | 'redact' | 'log';
  on?: Side;
  stream_window?: number;
}

const DEFAULTS = { action: 'block', on: 'both', window: 64 } as const;
/** The category config `terms` and `patterns` are reported under. */
const CUSTOM = 'custom';
const REDACTED = '[FILTERED]';

interface Rule {
  readonly category: string;
  readonly re: RegExp;
}

const NOT_SYSTEM = new Set(['user', 'assistant', 'tool'] as const);

export const contentFilter: InterceptorModule<ContentFilterConfig> = {
  name: 'content_filter',
  describe(config) {
    const parts = [...(config.categories ?? [])];
    if (config.terms?.length) parts.push(`${config.terms.length} terms`);
    if (config.patterns?.length) parts.push(`${config.patterns.length} patterns`);
    return `${config.action ?? DEFAULTS.action} ${parts.join(', ')} (on ${config.on ?? DEFAULTS.on})`;
  },
  schema: {
    description:
      'Terms and patterns by category, in the prompt (every text but the system prompt) and in the answer, streams included. ' +
      'Needs at least one of `categories`, `terms` or `patterns`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      categories: {
        description: `Shipped term lists to use: ${Object.keys(CONTENT_CATEGORIES).map((c) => `\`${c}\``).join(', ')}.`,
        type: 'array',
        uniqueItems: true,
        minItems: 1,
        items: { enum: Object.keys(CONTENT_CATEGORIES) },
      },
      terms: {
        description: 'Your own words or phrases (whole words, any case), reported under category `custom`. At most 1000.',
        type: 'array',
        maxItems: 1000,
        items: { type: 'string', minLength: 1, maxLength: 200 },
      },
      patterns: {
        description: 'Your own JavaScript regular expressions (case-insensitive), reported under category `custom`. At most 100.',
        type: 'array',
        maxItems: 100,
        items: { type: 'string', minLength: 1, maxLength: 500, 'x-regex': true },
      },
      action: actionSchema(['block', 'redact', 'log'], DEFAULTS.action, ' `redact` writes `[FILTERED]`.'),
      on: onSchema(DEFAULTS.on, 'the prompt: user, assistant and tool messages'),
      stream_window: streamWindowSchema(DEFAULTS.window),
    },
  },
  create(config, deps) {
    const rules: Rule[] = (config.categories ?? []).map((c) => ({ category: c, re: termsRegex(CONTENT_CATEGORIES[c]!) }));
    if (config.terms?.length) rules.push({ category: CUSTOM, re: termsRegex(config.terms) });
    for (const p of config.patterns ?? []) rules.push({ category: CUSTOM, re: new RegExp(p, 'gi') });
    if (rules.length === 0) throw new Error('content_filter: set at least one of categories, terms or patterns');
    const action = config.action ?? DEFAULTS.action;
    const categories = [...new Set(rules.map((r) => r.category))];
    return new TextGuard({
      name: 'content_filter',
      side: config.on ?? DEFAULTS.on,
      action,
      window: config.stream_window ?? DEFAULTS.window,
      requestRoles: NOT_SYSTEM,
      findings: new Findings(deps, 'content_filter', [action], categories),
      detect(text) {
        const found: Detection[] = [];
        for (const { category, re } of rules) {
          eachMatch(re, text, (m) => found.push({ start: m.index, end: m.index + m[0].length, category, replacement: REDACTED }));
        }
        return settle(found);
      },
    });
  },
};
