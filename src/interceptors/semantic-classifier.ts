import type { InterceptorModule } from '../features/feature.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { EMBEDDER_SCHEMA, VectorIndex, type Embedder, type EmbedderSpec } from '../embeddings/index.js';
import type { Logger } from '../observability/logger.js';
import { Findings, upstreamFirst } from './kit.js';
import { requestTextOf } from '../pipeline/request-text.js';

export interface ClassConfig {
  examples: string[];
  router?: string;
  target?: string;
  model?: string;
}

export interface SemanticClassifierConfig {
  embedder?: EmbedderSpec;
  classes: Record<string, ClassConfig>;
  threshold?: number;
}

const DEFAULTS = { embedder: 'local', threshold: 0.75 } as const;
export const CLASS_HEADER = 'x-sidegate-class';
/** The most examples one classifier holds (every one is a vector in memory). */
const MAX_EXAMPLES = 2000;

/**
 * `semantic_classifier`: the prompt (the last user text) is embedded and compared with
 * labelled examples; the class of the most similar example at or over `threshold` wins.
 * A class may send the request to a router, put a target first or set the model; every
 * class tags the request (`x-sidegate-class`, the access line, the metric). The examples'
 * vectors are computed once per compiled config (started at compile time, awaited by the
 * first request); if the embedder fails, requests pass unclassified and it is tried again.
 */
class SemanticClassifier implements Stage {
  readonly name = 'semantic_classifier';
  private readonly chosen = slot<string>('semantic-class');
  private index: Promise<VectorIndex<string>> | null = null;
  readonly filterTargets?: (ctx: RequestContext, candidates: readonly CompiledTarget[]) => readonly CompiledTarget[];

  constructor(
    private readonly embedder: Embedder,
    private readonly classes: Readonly<Record<string, ClassConfig>>,
    private readonly threshold: number,
    private readonly findings: Findings,
    private readonly logger: Logger,
  ) {
    if (Object.values(classes).some((c) => c.target !== undefined)) this.filterTargets = this.targetFirst;
    void this.examples().catch(() => {}); // start now; the first request waits for it
  }

  /** The examples' vectors, computed once; a failure is forgotten so the next request tries again. */
  private examples(): Promise<VectorIndex<string>> {
    this.index ??= (async () => {
      const labelled = Object.entries(this.classes).flatMap(([name, c]) => c.examples.map((text) => [name, text] as const));
      const vectors = await this.embedder.embed(labelled.map(([, text]) => text));
      const index = new VectorIndex<string>(labelled.length);
      labelled.forEach(([name], i) => index.add(String(i), vectors[i]!, name));
      return index;
    })().catch((err: unknown) => {
      this.index = null;
      throw err;
    });
    return this.index;
  }

  /** The text classified: the last user text of the request. */
  private promptOf(ctx: RequestContext): string | null {
    const parts = requestTextOf(ctx);
    for (let i = parts.length - 1; i >= 0; i--) if (parts[i]!.role === 'user' && parts[i]!.text.trim()) return parts[i]!.text;
    return null;
  }

  async onRequest(ctx: RequestContext): Promise<void> {
    if (ctx.body === undefined) return;
    const text = this.promptOf(ctx);
    if (text === null) return;
    let best;
    try {
      const [index, [vector]] = await Promise.all([this.examples(), this.embedder.embed([text])]);
      best = index.search(vector!, 1, this.threshold)[0];
    } catch (err) {
      this.logger.warn({ err, request_id: ctx.id }, 'semantic_classifier: the embedder failed; the request goes on unclassified');
      ctx.note('class', null);
      return;
    }
    if (!best) return;
    const name = best.value;
    const c = this.classes[name]!;
    ctx.set(this.chosen, name);
    ctx.res.setHeader(CLASS_HEADER, name);
    ctx.note('class', name);
    ctx.note('class_score', Math.round(best.score * 1000) / 1000);
    const routes = c.router !== undefined || c.target !== undefined || c.model !== undefined;
    this.findings.record(ctx, routes ? 'route' : 'tag', name, 'request');
    if (c.model !== undefined) {
      ctx.modelOverride = c.model;
      ctx.body.model = c.model;
      ctx.markBodyChanged();
    }
    if (c.router !== undefined) ctx.reroute(c.router);
  }

  private targetFirst(ctx: RequestContext, candidates: readonly CompiledTarget[]): readonly CompiledTarget[] {
    const name = ctx.get(this.chosen);
    return upstreamFirst(candidates, name === undefined ? undefined : this.classes[name]!.target);
  }

}

export const semanticClassifier: InterceptorModule<SemanticClassifierConfig> = {
  name: 'semantic_classifier',
  describe(config) {
    const embedder = config.embedder ?? DEFAULTS.embedder;
    const classes = Object.entries(config.classes).map(([name, c]) => {
      const to = c.router ? ` → router ${c.router}` : c.target ? ` → target ${c.target}` : c.model ? ` → model ${c.model}` : ' (tag)';
      return `${name}${to}`;
    });
    return `by ${typeof embedder === 'string' ? embedder : `${embedder.upstream}/${embedder.model}`} similarity ≥ ${config.threshold ?? DEFAULTS.threshold}: ${classes.join(', ')}`;
  },
  schema: {
    description:
      'Classifies the prompt (the last user text) against labelled examples by embedding similarity: the class of the most ' +
      'similar example, if it scores at least `threshold`, routes the request (to a `router`, a `target` or a `model`) or just ' +
      'tags it (`x-sidegate-class`, the access line\'s `class`, the metric). The examples\' vectors are computed once per config version.',
    type: 'object',
    additionalProperties: false,
    required: ['classes'],
    properties: {
      embedder: { ...EMBEDDER_SCHEMA, description: `${EMBEDDER_SCHEMA.description} Default \`local\`.` },
      threshold: {
        description: 'The cosine similarity (0 to 1) a prompt needs with an example to take its class. Default `0.75`.',
        type: 'number',
        minimum: 0,
        maximum: 1,
        default: DEFAULTS.threshold,
      },
      classes: {
        description: 'The classes by name (1 to 50), each with its examples and where it sends requests (nothing: only a tag).',
        type: 'object',
        minProperties: 1,
        maxProperties: 50,
        propertyNames: { $ref: '#/$defs/name' },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['examples'],
          properties: {
            examples: {
              description: `Prompts of this class (1 to 200, up to 2000 characters each; at most ${MAX_EXAMPLES} over all classes).`,
              type: 'array',
              minItems: 1,
              maxItems: 200,
              items: { type: 'string', minLength: 1, maxLength: 2000 },
            },
            router: { $ref: '#/$defs/name', description: 'Send this class to this router (its features and interceptors run from the start).' },
            target: { $ref: '#/$defs/name', description: 'Put the router\'s target with this upstream first.' },
            model: { description: 'Send this class with this model, whatever the targets say.', type: 'string', minLength: 1, maxLength: 256 },
          },
        },
      },
    },
  },
  create(config, deps) {
    const total = Object.values(config.classes).reduce((n, c) => n + c.examples.length, 0);
    if (total > MAX_EXAMPLES) throw new Error(`semantic_classifier: ${total} examples; at most ${MAX_EXAMPLES}`);
    const names = Object.keys(config.classes);
    const findings = new Findings(deps, 'semantic_classifier', ['route', 'tag'], names);
    return new SemanticClassifier(deps.embedders.get(config.embedder ?? DEFAULTS.embedder), config.classes, config.threshold ?? DEFAULTS.threshold, findings, deps.logger);
  },
};
