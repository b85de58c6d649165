import { bounded } from '../config/ranges.js';
import type { FeatureModule } from './feature.js';
import { registerMemoryStage } from './memory-stages.js';
import { ORDER } from './feature.js';
import type { CompileDeps } from '../pipeline/compile-deps.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Stage } from '../pipeline/stage.js';
import { slot } from '../pipeline/slot.js';
import { apiKeyOf, headerText, sha } from '../pipeline/caller-key.js';
import { EMBEDDER_SCHEMA, type Embedder, type EmbedderSpec } from '../embeddings/index.js';
import type { VectorSpace } from '../state/vector-space.js';
import { contentText } from '../tokens/count.js';
import { parseDuration, parseSize } from '../util/units.js';
import { keptText } from '../util/kept-bytes.js';

export interface SemanticMemoryConfig {
  scope: string;
  embedder?: EmbedderSpec;
  top_k?: number;
  threshold?: number;
  ttl?: string;
  max_facts?: number;
  max_size?: string;
  min_chars?: number;
  max_chars?: number;
}

const DEFAULTS = { embedder: 'local' as EmbedderSpec, top_k: 3, threshold: 0.3, ttl: '30d', max_facts: 200, max_size: '20mb', min_chars: 12, max_chars: 2000 };
const SCOPE_PATTERN = '^(key|team|api_key|header:[A-Za-z0-9!#$%&\'*+.^_`|~-]+)$';
const INTRO = 'Things the user said in earlier conversations (use them if they are relevant):';

interface MemoryState {
  readonly scope: string;
  readonly text: string;
  readonly vector: Float32Array;
}
const STATE = slot<MemoryState>('semantic_memory');

/**
 * Whose memory a request reads and feeds: a gateway key's name (`key`), its team
 * (`team`), a hash of the caller's API key (`api_key`) or of a header (`header:x-user-id`).
 * The same value names the memory in `DELETE /memory?scope=`.
 */
class MemoryScope {
  private readonly header: string | null;

  constructor(readonly spec: string) {
    this.header = spec.startsWith('header:') ? spec.slice('header:'.length).toLowerCase() : null;
  }

  /** The raw value naming this request's memory, or null (no such header, no key). */
  valueOf(ctx: RequestContext): string | null {
    if (this.header !== null) return headerText(ctx.req.headers[this.header]) ?? null;
    if (this.spec === 'key') return ctx.identity?.key ?? null;
    if (this.spec === 'team') return ctx.identity?.team ?? null;
    return apiKeyOf(ctx) ?? null;
  }

  /** The stored scope for a raw value: hashed, so a header's or key's value is never kept. */
  idOf(value: string): string {
    return `${this.spec}:${sha(value)}`;
  }
}

/** A statement worth remembering: long enough, not a question. */
function isStatement(text: string, min: number): boolean {
  const t = text.trim();
  return t.length >= min && !t.endsWith('?');
}

/**
 * `semantic_memory`: per scope, what the user stated in earlier turns is embedded and
 * stored; before each call, the `top_k` stored statements most similar to the new turn
 * (at least `threshold`) are added as a system message. Statements come from the last
 * user turn of a request that was answered (200); questions are not stored. Stored in
 * the state store's vector space (Redis shares them between replicas), bounded per scope
 * (`max_facts`, oldest first), in bytes and by `ttl`. `DELETE /memory?scope=<value>`
 * on the admin listener forgets one scope.
 */
class SemanticMemoryStage implements Stage {
  readonly name = 'semantic_memory';
  private readonly scope: MemoryScope;
  private readonly embedder: Embedder;
  private readonly space: VectorSpace;
  private readonly topK: number;
  private readonly threshold: number;
  private readonly ttlMs: number;
  private readonly minChars: number;
  private readonly maxChars: number;
  private readonly injected: { inc(by?: number): void };
  private errorLogged = false;

  constructor(
    private readonly config: SemanticMemoryConfig,
    private readonly deps: CompileDeps,
  ) {
    this.scope = new MemoryScope(config.scope);
    this.embedder = deps.embedders.get(config.embedder ?? DEFAULTS.embedder);
    this.space = deps.state.vectorSpace(`memory:${deps.routerName}:${this.embedder.id}`, {
      maxPerScope: config.max_facts ?? DEFAULTS.max_facts,
      maxBytes: parseSize(config.max_size ?? DEFAULTS.max_size),
    });
    this.topK = config.top_k ?? DEFAULTS.top_k;
    this.threshold = config.threshold ?? DEFAULTS.threshold;
    this.ttlMs = parseDuration(config.ttl ?? DEFAULTS.ttl);
    this.minChars = config.min_chars ?? DEFAULTS.min_chars;
    this.maxChars = config.max_chars ?? DEFAULTS.max_chars;
    this.injected = deps.metrics.localCounter('ai_gateway_memory_facts_injected_total', 'Stored statements added to requests by semantic_memory, by router.', ['router']).child(deps.routerName);
    registerMemoryStage(this);
  }

  private lastUserTurn(ctx: RequestContext): string | null {
    const messages = ctx.body?.messages;
    if (!Array.isArray(messages) || messages.length === 0) return null;
    const last = messages[messages.length - 1] as Record<string, unknown> | null;
    if (!last || last.role !== 'user') return null;
    const { text } = contentText(last.content);
    return text.trim() ? text.slice(0, this.maxChars) : null;
  }

  async onRequest(ctx: RequestContext): Promise<void> {
    const body = ctx.body;
    if (body === undefined || ctx.method !== 'POST') return;
    const value = this.scope.valueOf(ctx);
    const text = value === null ? null : this.lastUserTurn(ctx);
    if (value === null || text === null) return;
    const scope = this.scope.idOf(value);
    let vector: Float32Array;
    try {
      [vector] = (await this.embedder.embed([text])) as [Float32Array];
    } catch (err) {
      if (!this.errorLogged) this.deps.logger.warn({ err, router: this.deps.routerName }, 'semantic_memory: the embedder failed; requests go on without memory');
      this.errorLogged = true;
      return;
    }
    ctx.set(STATE, { scope, text, vector });
    const found = this.space.search(scope, vector, this.topK + 1, this.threshold, this.deps.now());
    const matches = (found instanceof Promise ? await found : found).filter((m) => m.record.value.toString('utf8') !== text).slice(0, this.topK);
    ctx.res.setHeader('x-sidegate-memory', String(matches.length));
    if (matches.length === 0) return;
    const facts = matches.map((m) => `- ${m.record.value.toString('utf8')}`).join('\n');
    addSystemText(ctx, body, `${INTRO}\n${facts}`);
    ctx.markBodyChanged();
    ctx.note('memory_facts', matches.length);
    this.injected.inc(matches.length);
  }

  onDone(ctx: RequestContext): void {
    const state = ctx.get(STATE);
    if (!state || !ctx.completed || ctx.status !== 200 || ctx.error || !isStatement(state.text, this.minChars)) return;
    const now = this.deps.now();
    this.space.add(state.scope, { id: sha(state.text), vector: state.vector, value: keptText(state.text), storedAt: now, expiresAt: now + this.ttlMs });
  }

  /** Forgets the memory a raw scope value names (the admin's `DELETE /memory?scope=`). */
  forget(value: string): Promise<number> {
    return this.space.forget(this.scope.idOf(value));
  }

  stats(): Record<string, unknown> {
    return { scope: this.config.scope, embedder: this.embedder.id, top_k: this.topK, threshold: this.threshold, ...this.space.stats() };
  }
}

/** Adds text to the request's system prompt in the caller's format (a system message, or Anthropic's `system`). */
function addSystemText(ctx: RequestContext, body: Record<string, unknown>, text: string): void {
  if (ctx.format.name === 'anthropic') {
    const system = body.system;
    if (Array.isArray(system)) body.system = [...system, { type: 'text', text }];
    else body.system = typeof system === 'string' && system ? `${system}\n\n${text}` : text;
    return;
  }
  const messages = body.messages as Record<string, unknown>[];
  let at = 0;
  while (at < messages.length && (messages[at]!.role === 'system' || messages[at]!.role === 'developer')) at++;
  body.messages = [...messages.slice(0, at), { role: 'system', content: text }, ...messages.slice(at)];
}

export const semanticMemory: FeatureModule<SemanticMemoryConfig> = {
  name: 'semantic_memory',
  order: ORDER.semantic_memory,
  describe: (c) => `semantic memory per ${c.scope}: the ${c.top_k ?? DEFAULTS.top_k} most relevant earlier statements (similarity ≥ ${c.threshold ?? DEFAULTS.threshold}) added as a system message, kept ${c.ttl ?? DEFAULTS.ttl}`,
  schema: {
    description:
      'Remembers what each user stated in earlier turns and adds the most relevant statements to new requests as a system ' +
      'message. Statements (the last user turn of an answered request, not a question) are embedded and stored per `scope`; ' +
      'answers carry `X-Sidegate-Memory: <facts added>`. `DELETE /memory?scope=<value>` on the admin listener forgets a scope.',
    type: 'object',
    additionalProperties: false,
    required: ['scope'],
    properties: {
      scope: {
        description: 'Whose memory: `key` (a gateway key\'s name), `team`, `api_key` (a hash of the caller\'s key) or `header:<name>` (e.g. `header:x-user-id`). Values are hashed before they are stored.',
        type: 'string',
        pattern: SCOPE_PATTERN,
        examples: ['header:x-user-id', 'key', 'team'],
      },
      embedder: { ...EMBEDDER_SCHEMA, default: 'local' },
      top_k: { description: 'Statements added at most (1 to 20). Default 3.', type: 'integer', minimum: 1, maximum: 20, default: DEFAULTS.top_k },
      threshold: { description: 'The least similarity (0 to 1) for a statement to be added. Default 0.3.', type: 'number', minimum: 0, maximum: 1, default: DEFAULTS.threshold },
      ttl: bounded('duration', '1ms', '365d', 'How long a statement is kept. Default `30d`.', { default: DEFAULTS.ttl }),
      max_facts: { description: 'Statements kept per scope (1 to 10000), the oldest going first. Default 200.', type: 'integer', minimum: 1, maximum: 10_000, default: DEFAULTS.max_facts },
      max_size: bounded('size', '1kb', '16gb', 'The most bytes the router\'s memory takes in this process. Default `20mb`.', { default: DEFAULTS.max_size }),
      min_chars: { description: 'Shorter turns are not stored (1 to 1000). Default 12.', type: 'integer', minimum: 1, maximum: 1000, default: DEFAULTS.min_chars },
      max_chars: { description: 'Longer turns are stored and compared by their start (100 to 32768). Default 2000.', type: 'integer', minimum: 100, maximum: 32_768, default: DEFAULTS.max_chars },
    },
  },
  create: (config, deps) => new SemanticMemoryStage(config, deps),
};
