import { hash } from 'node:crypto';
import type { InterceptorModule } from '../features/feature.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { CALLER_KEY_DESCRIPTION, CALLER_KEY_PATTERN, callerKeyFunction, type CallerKeyOf } from '../pipeline/caller-key.js';
import { Findings, upstreamFirst } from './kit.js';
import { BoundedMemo } from '../util/bounded-memo.js';

export interface VariantConfig {
  name: string;
  weight: number;
  router?: string;
  target?: string;
  model?: string;
  params?: Record<string, unknown>;
}

export interface AbTestConfig {
  key?: string;
  seed?: string;
  variants: VariantConfig[];
}

const DEFAULT_KEY = 'client_ip';
export const VARIANT_HEADER = 'x-sidegate-variant';

interface Variant {
  readonly config: VariantConfig;
  /** The variant owns hash positions below this bound (and at or above the previous variant's). */
  readonly upTo: number;
  readonly params: readonly (readonly [string, unknown])[];
}

/**
 * `ab_test`: each caller (by `key`) is put in one variant for good: the variant is chosen by
 * a hash of the key (and `seed`), spread by weight, so the same caller always lands in the
 * same one and the split follows the weights. A variant can send the request to another
 * router, put one of the router's targets first, change the model or set parameters.
 */
class AbTest implements Stage {
  readonly name = 'ab_test';
  private readonly chosen = slot<Variant>('ab-test');
  /**
   * Variants of recent callers: a caller keeps its key (a sidecar's callers mostly share
   * one address), so most requests skip the SHA-256. Bounded by count and key length.
   */
  private readonly recent = new BoundedMemo((key) => this.hashedVariantOf(key), 4096, 256);
  private readonly variants: readonly Variant[];
  private readonly total: number;
  private readonly keyOf: CallerKeyOf;
  readonly filterTargets?: (ctx: RequestContext, candidates: readonly CompiledTarget[]) => readonly CompiledTarget[];

  constructor(
    private readonly config: AbTestConfig,
    clientIp: Parameters<typeof callerKeyFunction>[1],
    private readonly findings: Findings,
  ) {
    let upTo = 0;
    this.variants = config.variants.map((v) => {
      upTo += v.weight;
      return Object.freeze({ config: v, upTo, params: Object.entries(v.params ?? {}) });
    });
    this.total = upTo;
    this.keyOf = callerKeyFunction(config.key ?? DEFAULT_KEY, clientIp);
    if (config.variants.some((v) => v.target !== undefined)) this.filterTargets = this.targetFirst;
  }

  /** The variant of a caller key: its hash as a number in [0, total), against the cumulative weights. */
  variantOf(key: string): Variant {
    return this.recent.get(key);
  }

  private hashedVariantOf(key: string): Variant {
    const digest = hash('sha256', `${this.config.seed ?? ''}\0${key}`, 'buffer');
    const at = (digest.readUInt32BE(0) / 0x1_0000_0000) * this.total;
    return this.variants.find((v) => at < v.upTo) ?? this.variants[this.variants.length - 1]!;
  }

  onRequest(ctx: RequestContext): void {
    const variant = this.variantOf(this.keyOf(ctx));
    const v = variant.config;
    ctx.set(this.chosen, variant);
    ctx.res.setHeader(VARIANT_HEADER, v.name); // on every answer, refusals included
    ctx.note('variant', v.name);
    this.findings.record(ctx, 'assign', v.name, 'request');
    if (ctx.body !== undefined) {
      if (v.model !== undefined) {
        ctx.modelOverride = v.model;
        ctx.body.model = v.model;
        ctx.markBodyChanged();
      }
      if (variant.params.length) {
        for (const [field, value] of variant.params) ctx.body[field] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
        ctx.markBodyChanged();
      }
    }
    if (v.router !== undefined) ctx.reroute(v.router);
  }

  /** A variant's `target` goes first; the others stay behind it as fallbacks. */
  private targetFirst(ctx: RequestContext, candidates: readonly CompiledTarget[]): readonly CompiledTarget[] {
    return upstreamFirst(candidates, ctx.get(this.chosen)?.config.target);
  }


  stats(): Record<string, unknown> {
    return { key: this.config.key ?? DEFAULT_KEY, variants: this.config.variants.map((v) => ({ name: v.name, weight: v.weight })) };
  }
}

export const abTest: InterceptorModule<AbTestConfig> = {
  name: 'ab_test',
  describe(config) {
    const total = config.variants.reduce((a, v) => a + v.weight, 0);
    return `sticky by ${config.key ?? DEFAULT_KEY}: ${config.variants
      .map((v) => {
        const changes = [v.router && `router ${v.router}`, v.target && `target ${v.target}`, v.model && `model ${v.model}`, v.params && `set ${Object.keys(v.params).join(', ')}`].filter(Boolean);
        return `${v.name} ${Math.round((v.weight / total) * 1000) / 10}%${changes.length ? ` (${changes.join(', ')})` : ''}`;
      })
      .join(', ')}`;
  },
  schema: {
    description:
      'An A/B test: each caller is put in one variant, chosen by a hash of `key` and `seed` and spread by the weights, so a ' +
      'caller stays in its variant. A variant can send the request to another `router`, put a `target` first, change the ' +
      '`model` or set `params`. The variant\'s name is answered in `x-sidegate-variant`, written in the access line (`variant`) ' +
      'and counted in `ai_gateway_interceptor_actions_total{interceptor="ab_test",action="assign",category=<variant>}`.',
    type: 'object',
    additionalProperties: false,
    required: ['variants'],
    properties: {
      key: {
        description: `Who stays in one variant: ${CALLER_KEY_DESCRIPTION} Default \`client_ip\`.`,
        type: 'string',
        pattern: CALLER_KEY_PATTERN,
        default: DEFAULT_KEY,
        examples: ['header:x-user-id', 'api_key', 'client_ip'],
      },
      seed: {
        description: 'Mixed into the hash: a new seed reshuffles callers between variants; two tests with different seeds split independently. Default empty.',
        type: 'string',
        maxLength: 200,
      },
      variants: {
        description: 'The variants (2 to 20), each with a unique `name`.',
        type: 'array',
        minItems: 2,
        maxItems: 20,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'weight'],
          properties: {
            name: { $ref: '#/$defs/name', description: 'The variant\'s name, as `x-sidegate-variant` and the metric say it.' },
            weight: { description: 'Its share, relative to the other variants\' weights (0 to 10000; 0 receives nobody).', type: 'integer', minimum: 0, maximum: 10000 },
            router: { $ref: '#/$defs/name', description: 'Send its requests to this router instead (its features and interceptors run from the start).' },
            target: { $ref: '#/$defs/name', description: 'Put the router\'s target with this upstream first (the others stay as fallbacks).' },
            model: { description: 'The model its requests are sent with, whatever the targets say.', type: 'string', minLength: 1, maxLength: 256 },
            params: { description: 'Body fields to set, e.g. `{ temperature: 0.2 }` (at most 50).', type: 'object', maxProperties: 50 },
          },
        },
      },
    },
  },
  create(config, deps) {
    const names = config.variants.map((v) => v.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice) throw new Error(`ab_test: variant "${twice}" is listed twice`);
    if (!config.variants.some((v) => v.weight > 0)) throw new Error('ab_test: every variant has weight 0');
    return new AbTest(config, deps.clientIp, new Findings(deps, 'ab_test', ['assign'], names));
  },
};
