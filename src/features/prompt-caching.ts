import { hash } from 'node:crypto';
import { BoundedMemo } from '../util/bounded-memo.js';
import type { Counter } from 'prom-client';
import type { ApiFormat } from '../formats/format.js';
import { isSystemMessage, lastUserGroup, messagesOf, turnGroups, type Json } from '../formats/conversation.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { Stage, UpstreamCall } from '../pipeline/stage.js';
import { contentText, countTokens, loadEncodingsFor, maxTokensOf } from '../tokens/index.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';

export interface PromptCachingConfig {
  min_tokens?: number;
  ttl?: '5m' | '1h';
  key?: boolean;
}

const DEFAULTS = { min_tokens: 1024, ttl: '5m', key: true } as const;
/** Anthropic takes at most four cache breakpoints per request. */
const MAX_BREAKPOINTS = 4;
const ABSENT = Symbol('absent');

/** One edit of the body, to undo when a later try goes to a target of the other API. */
interface Edit {
  readonly holder: Json;
  readonly key: string;
  readonly previous: unknown;
}

/** The marks this request carries now: for which API, and how to take them off. */
interface Marks {
  api: ApiFormat;
  edits: Edit[];
}
const MARKS = slot<Marks>('prompt_caching');

function set(edits: Edit[], holder: Json, key: string, value: unknown): void {
  edits.push({ holder, key, previous: key in holder ? holder[key] : ABSENT });
  holder[key] = value;
}

function undo(edits: readonly Edit[]): void {
  for (let i = edits.length - 1; i >= 0; i--) {
    const { holder, key, previous } = edits[i]!;
    if (previous === ABSENT) delete holder[key];
    else holder[key] = previous;
  }
}

function countMarks(value: unknown, depth = 0): number {
  if (depth > 8 || value === null || typeof value !== 'object') return 0;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + countMarks(v, depth + 1), 0);
  let n = 'cache_control' in value ? 1 : 0;
  for (const key of ['content', 'system', 'tools', 'messages'] as const) n += countMarks((value as Json)[key], depth + 1);
  return n;
}

/** Puts a breakpoint on the end of a content (a string becomes one text block carrying it). */
function markContent(edits: Edit[], holder: Json, key: string, control: Json): boolean {
  const content = holder[key];
  if (typeof content === 'string') {
    if (content.length === 0) return false;
    set(edits, holder, key, [{ type: 'text', text: content, cache_control: control }]);
    return true;
  }
  if (Array.isArray(content) && content.length > 0) {
    const last = content[content.length - 1];
    if (last && typeof last === 'object' && !('cache_control' in last)) {
      set(edits, last as Json, 'cache_control', control);
      return true;
    }
  }
  return false;
}

/**
 * `prompt_cache_key` by stable prefix: an app sends the same system prompt and tools on
 * every request, so the SHA-256 is taken once per prefix (at most 64 prefixes of 16 KB kept).
 */
const CACHE_KEYS = new BoundedMemo((prefix) => `sg-${hash('sha256', prefix, 'hex').slice(0, 24)}`, 64, 16 * 1024);

class PromptCachingStage implements Stage {
  readonly name = 'prompt_caching';
  private readonly control: Json;

  constructor(
    private readonly minTokens: number,
    ttl: '5m' | '1h',
    private readonly key: boolean,
    private readonly breakpoints: ReturnType<Counter['labels']>,
  ) {
    this.control = ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
  }

  /** True when the prefix is long enough to be cached (providers ignore shorter ones). */
  private longEnough(text: string, model: string | undefined): boolean {
    if (maxTokensOf(text) < this.minTokens) return false;
    return countTokens(text, model) >= this.minTokens;
  }

  /**
   * Anthropic breakpoints, furthest first while they last (the caller's own count): the
   * last stable turn (before the turn being answered), the system prompt, the tools.
   */
  private markAnthropic(ctx: RequestContext, body: Json, messages: Json[], edits: Edit[]): void {
    const format = ctx.format.name;
    const model = ctx.model;
    let budget = MAX_BREAKPOINTS - countMarks(body);
    const tools = Array.isArray(body.tools) ? (body.tools as unknown[]) : [];
    const systemText = format === 'anthropic' ? contentText(body.system).text : messages.filter((m) => isSystemMessage(format, m)).map((m) => contentText(m.content).text).join('\n');
    const toolsText = tools.length ? JSON.stringify(tools) : '';
    const groups = turnGroups(format, messages);
    const tail = lastUserGroup(groups, messages);
    let placed = 0;

    if (budget > 0 && tail > 0) {
      const stable = messages[groups[tail - 1]!.end - 1]!;
      let text = toolsText + systemText;
      for (let i = 0; i < groups[tail - 1]!.end; i++) if (!isSystemMessage(format, messages[i]!)) text += contentText(messages[i]!.content).text;
      if (this.longEnough(text, model) && markContent(edits, stable, 'content', this.control)) {
        budget--;
        placed++;
      }
    }
    if (budget > 0 && systemText && this.longEnough(toolsText + systemText, model)) {
      const marked =
        format === 'anthropic'
          ? markContent(edits, body, 'system', this.control)
          : markContent(edits, messages.filter((m) => isSystemMessage(format, m)).pop()!, 'content', this.control);
      if (marked) {
        budget--;
        placed++;
      }
    }
    if (budget > 0 && tools.length && this.longEnough(toolsText, model)) {
      const last = tools[tools.length - 1];
      if (last && typeof last === 'object' && !('cache_control' in last)) {
        set(edits, last as Json, 'cache_control', this.control);
        placed++;
      }
    }
    if (placed) {
      this.breakpoints.inc(placed);
      ctx.note('cache_breakpoints', placed);
    }
  }

  /** OpenAI: a `prompt_cache_key` from the stable prefix (tools and system prompt), unless the caller set one. */
  private markOpenAI(ctx: RequestContext, body: Json, messages: Json[], edits: Edit[]): void {
    if (!this.key || body.prompt_cache_key !== undefined) return;
    const format = ctx.format.name;
    let prefix = Array.isArray(body.tools) ? JSON.stringify(body.tools) : '';
    if (format === 'anthropic') prefix += contentText(body.system).text;
    for (const m of messages) if (isSystemMessage(format, m)) prefix += contentText(m.content).text;
    set(edits, body, 'prompt_cache_key', CACHE_KEYS.get(prefix));
  }

  /** Marks the body for `target`'s API; a try to the other API first takes the old marks off. */
  private mark(ctx: RequestContext, target: CompiledTarget): void {
    const body = ctx.body;
    const messages = messagesOf(body);
    if (!body || !messages) return;
    // A provider that speaks both APIs (the mock) is sent the caller's.
    const wire = target.upstream.provider.format ?? 'openai';
    const api: ApiFormat = wire === 'any' ? ctx.format.name : wire;
    let marks = ctx.get(MARKS);
    if (marks?.api === api) return;
    if (marks) undo(marks.edits);
    marks = { api, edits: [] };
    ctx.set(MARKS, marks);
    if (api === 'anthropic') this.markAnthropic(ctx, body, messages, marks.edits);
    else this.markOpenAI(ctx, body, messages, marks.edits);
    if (marks.edits.length) ctx.markBodyChanged();
  }

  wrapCall(next: UpstreamCall): UpstreamCall {
    // Synchronous up to the provider's send, which serializes the body before its first await.
    return (ctx, attempt) => {
      this.mark(ctx, attempt.target);
      return next(ctx, attempt);
    };
  }
}

/**
 * `prompt_caching`: marks long stable prefixes for the provider's prompt cache, on each
 * try once its target is known (STAGE_ORDER.prompt_caching): for an Anthropic target,
 * `cache_control` breakpoints (up to four with the caller's own) on the last stable turn,
 * the system prompt and the tools; for an OpenAI one, a `prompt_cache_key` derived from
 * the system prompt and tools. Cached tokens the answer reports (`cached_tokens`,
 * `cache_read_input_tokens`) are priced at the cached rate by budgets, and counted in
 * `ai_gateway_tokens_total{kind="cached_prompt"}`.
 */
export const promptCaching: FeatureModule<PromptCachingConfig> = {
  name: 'prompt_caching',
  order: ORDER.prompt_caching,
  describe(c) {
    return `per try: Anthropic targets get cache_control breakpoints (last stable turn, system, tools; prefixes of ${c.min_tokens ?? DEFAULTS.min_tokens}+ tokens, ttl ${c.ttl ?? DEFAULTS.ttl}); OpenAI targets ${c.key === false ? 'unchanged' : 'get a prompt_cache_key'}`;
  },
  schema: {
    description:
      "Marks long stable prefixes for the provider's prompt cache: Anthropic `cache_control` breakpoints (at most 4 per request, the caller's own included) on the last stable turn, the system prompt and the tools; " +
      'OpenAI `prompt_cache_key`. Cached input tokens are priced at the `cached_input` rate of `pricing`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      min_tokens: {
        description: 'The shortest prefix worth a breakpoint, in tokens (1–1000000). Anthropic caches nothing shorter than 1024 tokens (2048 for Haiku models). Default 1024.',
        type: 'integer',
        minimum: 1,
        maximum: 1_000_000,
        default: DEFAULTS.min_tokens,
      },
      ttl: { description: "How long Anthropic keeps the cached prefix: `5m` (default) or `1h` (written at a higher price).", enum: ['5m', '1h'], default: DEFAULTS.ttl },
      key: { description: 'Set `prompt_cache_key` on requests to OpenAI targets that carry none (a hash of the system prompt and tools). Default true.', type: 'boolean', default: DEFAULTS.key },
    },
  },
  create(config, deps) {
    loadEncodingsFor(deps.targets.map((t) => t.model));
    const counter = deps.metrics.counter('ai_gateway_prompt_cache_breakpoints_total', 'Anthropic cache_control breakpoints the gateway placed, by router.', ['router']);
    return new PromptCachingStage(config.min_tokens ?? DEFAULTS.min_tokens, config.ttl ?? DEFAULTS.ttl, config.key ?? DEFAULTS.key, counter.labels(deps.routerName));
  },
};
