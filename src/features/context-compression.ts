import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Counter } from 'prom-client';
import { answerOfBody, isSystemMessage, lastUserGroup, messagesOf, transcript, turnGroups, type Json, type TurnGroup } from '../formats/conversation.js';
import type { Logger } from '../observability/logger.js';
import type { PromptVariable } from '../config/types.js';
import type { RequestContext } from '../pipeline/context.js';
import { INJECT_DEPTH_HEADER, type Inject } from '../server/inject.js';
import { slot } from '../pipeline/slot.js';
import type { Stage } from '../pipeline/stage.js';
import type { ResponseHead } from '../providers/provider.js';
import { countRequestTokens, loadEncodingsFor } from '../tokens/index.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';
// Summaries go through the gateway in process (inject): its engine loads with this module, never on a request.
import '../server/inject-engine.js';

export interface ContextCompressionConfig {
  threshold?: number;
  router?: string;
  prompt?: string;
  keep_last?: number;
  max_summary_tokens?: number;
}

const DEFAULTS = { threshold: 16_000, keep_last: 4, max_summary_tokens: 1024 } as const;
/** Summaries kept per router (each a few KB), by the hash of the turns they replaced. */
const MAX_SUMMARIES = 2000;
/** The caller's headers a summary request carries (who is asking, with which credential). */
const FORWARDED = ['authorization', 'x-api-key', 'api-key', 'anthropic-version', 'openai-organization', 'openai-project'] as const;
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;
const DEFAULT_PROMPT =
  'Summarize the conversation below for the assistant that continues it. Keep every fact, decision, name, number, ' +
  'open question and instruction the user gave; drop pleasantries. Write plain prose, at most a few paragraphs.';

/** A template with its variables filled; `{{conversation}}` stays for the transcript. */
function fillTemplate(template: string, variables: Readonly<Record<string, PromptVariable>>): string {
  // Only texts: a variable read from a request (`{ header }`, `{ body }`) has no value for a summary.
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = variables[name];
    return name === 'conversation' ? whole : typeof value === 'string' ? value : '';
  });
}

interface Compressed {
  readonly messages: number;
}

/** The messages with those before `end` replaced by a summary (their system messages stay, first). */
function replaceTurns(format: 'openai' | 'anthropic', messages: readonly Json[], end: number, summary: string): Json[] {
  const out = messages.slice(0, end).filter((m) => isSystemMessage(format, m));
  const count = end - out.length;
  out.push({ role: format === 'openai' ? 'system' : 'user', content: `Summary of the earlier conversation (${count} messages):\n${summary}` });
  for (let i = end; i < messages.length; i++) out.push(messages[i]!);
  return out;
}
const COMPRESSED = slot<Compressed>('context_compression');

class ContextCompressionStage implements Stage {
  readonly name = 'context_compression';
  private readonly summaries = new LRUCache<string, string>({ max: MAX_SUMMARIES });
  /** Summaries being made, so concurrent requests with the same turns share one call. */
  private readonly pending = new Map<string, Promise<string | null>>();
  private readonly counts = { compressed: 0, summaries_made: 0, cache_hits: 0, failed: 0 };
  private readonly seed: string;
  private readonly summaryUrl: string;

  constructor(
    private readonly threshold: number,
    private readonly keepLast: number,
    private readonly maxSummaryTokens: number,
    private readonly summaryRouter: string,
    private readonly prompt: string,
    private readonly inject: Inject,
    private readonly logger: Logger,
    private readonly results: Counter,
    private readonly routerName: string,
  ) {
    this.summaryUrl = `/router/${encodeURIComponent(summaryRouter)}/v1/chat/completions`;
    this.seed = createHash('sha256').update(`${summaryRouter}\n${prompt}`).digest('hex');
  }

  /** The hash of every turn up to each group's end: prefixes[g] covers groups [0, g]. */
  private prefixHashes(messages: readonly Json[], groups: readonly TurnGroup[], cut: number): string[] {
    const out: string[] = [];
    let previous = this.seed;
    for (let g = 0; g < cut; g++) {
      const { start, end } = groups[g]!;
      previous = createHash('sha256').update(previous).update(JSON.stringify(messages.slice(start, end))).digest('hex');
      out.push(previous);
    }
    return out;
  }

  private summaryRequest(text: string): Json {
    const messages = this.prompt.includes('{{')
      ? [{ role: 'user', content: this.prompt.replace(PLACEHOLDER, () => text) }]
      : [
          { role: 'system', content: this.prompt },
          { role: 'user', content: text },
        ];
    return { model: this.summaryRouter, messages, max_tokens: this.maxSummaryTokens, stream: false };
  }

  /** The caller's headers that a summary request carries: it is made on the caller's behalf (credential, key). */
  private headersFor(ctx: RequestContext): Record<string, string> {
    const headers: Record<string, string> = { 'x-request-id': `${ctx.id.slice(0, 100)}.summary` };
    for (const name of FORWARDED) {
      const value = ctx.req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return headers;
  }

  /** Asks the summary router (in process, through its own pipeline); null when it failed. */
  private async summarize(ctx: RequestContext, text: string): Promise<string | null> {
    try {
      const answer = await this.inject({ method: 'POST', url: this.summaryUrl, headers: this.headersFor(ctx), body: this.summaryRequest(text) });
      const summary = answer.status === 200 ? answerOfBody('openai', answer.json())?.text : undefined;
      if (summary) return summary;
      this.logger.warn({ router: this.routerName, summary_router: this.summaryRouter, status: answer.status, request_id: ctx.id }, 'context_compression: the summary router gave no summary; sending the turns as they are');
    } catch (err) {
      this.logger.warn({ err, router: this.routerName, summary_router: this.summaryRouter, request_id: ctx.id }, 'context_compression: the summary call failed; sending the turns as they are');
    }
    return null;
  }

  private summaryOnce(ctx: RequestContext, hash: string, text: string): Promise<string | null> {
    let made = this.pending.get(hash);
    if (!made) {
      made = this.summarize(ctx, text).then((summary) => {
        this.pending.delete(hash);
        if (summary !== null) {
          this.summaries.set(hash, summary);
          this.counts.summaries_made++;
        }
        return summary;
      });
      this.pending.set(hash, made);
    }
    return made;
  }

  private count(result: 'made' | 'cached' | 'failed'): void {
    this.results.labels(this.routerName, result).inc();
  }

  async onRequest(ctx: RequestContext): Promise<void> {
    const body = ctx.body;
    const messages = messagesOf(body);
    // A request the gateway sent itself (a summary) is never compressed: no summary of a summary.
    if (!body || !messages || ctx.req.headers[INJECT_DEPTH_HEADER] !== undefined) return;
    if (!ctx.bodyChanged && ctx.rawBody !== null && ctx.rawBody.length <= this.threshold) return; // a token is at least a byte
    const format = ctx.format.name;
    if (countRequestTokens(format, body, ctx.model) <= this.threshold) return;
    const groups = turnGroups(format, messages);
    const tail = lastUserGroup(groups, messages);
    const cut = Math.min(tail < 0 ? groups.length : tail, groups.length - this.keepLast);
    if (cut <= 0) return;

    const hashes = this.prefixHashes(messages, groups, cut);
    const hash = hashes[cut - 1]!;
    let summary = this.summaries.get(hash);
    let upTo = cut;
    if (summary !== undefined) {
      this.counts.cache_hits++;
      this.count('cached');
    } else {
      // The summary of the first turns, from an earlier request of this chat: enough when
      // it and the turns since fit under the threshold; else brought up to date.
      let from = 0;
      let earlier: string | undefined;
      for (let g = cut - 2; g >= 0 && earlier === undefined; g--) {
        earlier = this.summaries.get(hashes[g]!);
        if (earlier !== undefined) from = g + 1;
      }
      if (earlier !== undefined && countRequestTokens(format, { ...body, messages: replaceTurns(format, messages, groups[from - 1]!.end, earlier) }, ctx.model) <= this.threshold) {
        summary = earlier;
        upTo = from;
        this.counts.cache_hits++;
        this.count('cached');
      } else {
        const turns = messages.slice(groups[from]!.start, groups[cut - 1]!.end).filter((m) => !isSystemMessage(format, m));
        const text = earlier === undefined ? transcript(turns) : `Summary of the conversation so far:\n${earlier}\n\nWhat followed:\n${transcript(turns)}`;
        summary = (await this.summaryOnce(ctx, hash, text)) ?? undefined;
        if (summary === undefined) {
          this.counts.failed++;
          this.count('failed');
          return;
        }
        this.count('made');
      }
    }
    const end = groups[upTo - 1]!.end;
    const replaced = end - messages.slice(0, end).filter((m) => isSystemMessage(format, m)).length;
    body.messages = replaceTurns(format, messages, end, summary);
    ctx.markBodyChanged();
    this.counts.compressed++;
    ctx.set(COMPRESSED, { messages: replaced });
    ctx.note('compressed_messages', replaced);
  }

  onResponse(ctx: RequestContext, head: ResponseHead): void {
    const compressed = ctx.get(COMPRESSED);
    if (compressed) head.headers['x-sidegate-compressed-messages'] = String(compressed.messages);
  }

  stats(): Record<string, unknown> {
    return { ...this.counts, summaries_cached: this.summaries.size };
  }
}

/**
 * `context_compression`: when a chat request passes `threshold` tokens, its older turns
 * (all but the last `keep_last`, and never the turn being answered) are replaced by a
 * summary that a named `router` writes, called in process through that router's own
 * pipeline. Summaries are kept by the hash of the turns they replaced, so a long chat
 * pays for each once; a later request reuses the summary of its first turns and, once it
 * passes the threshold again, has that summary brought up to date. A failed summary call
 * leaves the request as it was (logged).
 */
export const contextCompression: FeatureModule<ContextCompressionConfig> = {
  name: 'context_compression',
  order: ORDER.context_compression,
  describe(c) {
    return `past ${c.threshold ?? DEFAULTS.threshold} tokens, turns before the last ${c.keep_last ?? DEFAULTS.keep_last} are replaced by a summary from router ${c.router ?? '(this router)'}${c.prompt ? ` with prompt ${c.prompt}` : ''}, cached by the turns' hash`;
  },
  schema: {
    description:
      'Past `threshold` input tokens, older turns are replaced by a summary written by a router (in process, through its pipeline) and cached by the hash of the turns it replaced. ' +
      'Answers say how many messages were replaced in `x-sidegate-compressed-messages`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      threshold: { description: 'Input tokens (100–10000000) past which a request is compressed. Default 16000.', type: 'integer', minimum: 100, maximum: 10_000_000, default: DEFAULTS.threshold },
      router: { $ref: '#/$defs/name', description: 'The router that writes summaries (a small, cheap model). Default: this router (summary requests are never compressed themselves).' },
      prompt: { $ref: '#/$defs/name', description: 'A template from `prompts:` to ask for the summary; `{{conversation}}` in it is replaced by the transcript (else the transcript follows as a user turn). Default: a built-in prompt.' },
      keep_last: { description: 'Turns kept word for word at the end (0–100; a tool call with its results is one turn). Default 4.', type: 'integer', minimum: 0, maximum: 100, default: DEFAULTS.keep_last },
      max_summary_tokens: { description: 'The `max_tokens` of a summary request (16–100000). Default 1024.', type: 'integer', minimum: 16, maximum: 100_000, default: DEFAULTS.max_summary_tokens },
    },
  },
  create(config, deps) {
    const where = `routers.${deps.routerName}.features.context_compression`;
    const router = config.router ?? deps.routerName;
    if (!deps.routerNames.has(router)) throw new Error(`${where}.router: unknown router "${router}"; routers are: ${[...deps.routerNames].join(', ')}`);
    let prompt = DEFAULT_PROMPT;
    if (config.prompt !== undefined) {
      const named = deps.prompts[config.prompt];
      if (!named) throw new Error(`${where}.prompt: unknown prompt "${config.prompt}"; prompts are: ${Object.keys(deps.prompts).join(', ') || '(none)'}`);
      prompt = fillTemplate(named.template, named.variables ?? {});
    }
    loadEncodingsFor(deps.targets.map((t) => t.model));
    const results = deps.metrics.counter('ai_gateway_context_summaries_total', 'Summaries context_compression used, by router and result (`made`: a summary call, `cached`: reused, `failed`).', ['router', 'result']);
    return new ContextCompressionStage(
      config.threshold ?? DEFAULTS.threshold,
      config.keep_last ?? DEFAULTS.keep_last,
      config.max_summary_tokens ?? DEFAULTS.max_summary_tokens,
      router,
      prompt,
      deps.inject,
      deps.logger,
      results,
      deps.routerName,
    );
  },
};
