import { GatewayError } from '../errors.js';
import { lastUserGroup, messagesOf, turnGroups, type Json } from '../formats/conversation.js';
import type { CompiledTarget } from '../pipeline/compiled.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { Stage } from '../pipeline/stage.js';
import type { ResponseHead } from '../providers/provider.js';
import { countMessageTokens, countRequestTokens, loadEncodingsFor, modelInfo } from '../tokens/index.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';

export interface ContextTrimmingConfig {
  max_input_tokens?: number;
}

interface Trimmed {
  readonly messages: number;
  readonly tokens: number;
}
const TRIMMED = slot<Trimmed>('context_trimming');

/** The output room a request reserves when it sets no `max_tokens`: the model's own output limit. */
function outputRoom(body: Json, model: string | undefined): number {
  for (const field of ['max_tokens', 'max_completion_tokens', 'max_output_tokens'] as const) {
    const value = body[field];
    if (typeof value === 'number' && value > 0) return value;
  }
  return modelInfo(model).maxOutput;
}

/**
 * The model whose window bounds the request: the smallest window among the models the
 * router's targets would be sent (a fallback must fit too).
 */
function tightestModel(targets: readonly CompiledTarget[], requested: string | undefined): string | undefined {
  let best: string | undefined;
  let window = Number.POSITIVE_INFINITY;
  for (const t of targets) {
    const model = t.model ?? requested;
    const w = modelInfo(model).contextWindow;
    if (w < window) {
      window = w;
      best = model;
    }
  }
  return best;
}

class ContextTrimmingStage implements Stage {
  readonly name = 'context_trimming';
  private trimmedRequests = 0;
  private droppedMessages = 0;
  private refused = 0;

  constructor(
    private readonly maxInputTokens: number | null,
    private readonly targets: readonly CompiledTarget[],
    /** The bounding model when every target names its own; null: it depends on the request's model. */
    private readonly fixedModel: string | undefined | null,
  ) {}

  onRequest(ctx: RequestContext): void {
    const body = ctx.body;
    const messages = messagesOf(body);
    if (!body || !messages) return;
    const model = this.fixedModel === null ? tightestModel(this.targets, ctx.requestedModel) : this.fixedModel;
    const limit = this.maxInputTokens ?? modelInfo(model).contextWindow - outputRoom(body, model);
    // A token is at least one byte: a body smaller than the limit needs no count.
    if (!ctx.bodyChanged && ctx.rawBody !== null && ctx.rawBody.length <= limit) return;
    const format = ctx.format.name;
    let total = countRequestTokens(format, body, model);
    if (total <= limit) return;

    const groups = turnGroups(format, messages);
    const tail = lastUserGroup(groups, messages);
    const drop = new Set<number>();
    let droppedTokens = 0;
    let g = 0;
    const dropGroup = (index: number): void => {
      const { start, end } = groups[index]!;
      for (let i = start; i < end; i++) {
        const tokens = countMessageTokens(messages[i]!, model);
        total -= tokens;
        droppedTokens += tokens;
        drop.add(i);
      }
    };
    for (; g < tail && total > limit; g++) dropGroup(g);
    // Anthropic's messages start with a user turn: an assistant turn left first goes too.
    if (format === 'anthropic') for (; g < tail && messages[groups[g]!.start]!.role !== 'user'; g++) dropGroup(g);
    if (total > limit) {
      this.refused++;
      throw new GatewayError(
        'context_length_exceeded',
        `The request needs about ${total} input tokens even with only the system prompt and the last user turn; the limit is ${limit}${this.maxInputTokens === null ? ` (the context window of ${model ?? 'the model'} minus max_tokens)` : ' (max_input_tokens)'}.`,
        { param: 'messages' },
      );
    }
    if (drop.size === 0) return;
    body.messages = messages.filter((_, i) => !drop.has(i));
    ctx.markBodyChanged();
    this.trimmedRequests++;
    this.droppedMessages += drop.size;
    ctx.set(TRIMMED, { messages: drop.size, tokens: droppedTokens });
    ctx.note('trimmed_messages', drop.size);
    ctx.note('trimmed_tokens', droppedTokens);
  }

  onResponse(ctx: RequestContext, head: ResponseHead): void {
    const trimmed = ctx.get(TRIMMED);
    if (!trimmed) return;
    head.headers['x-sidegate-trimmed-messages'] = String(trimmed.messages);
    head.headers['x-sidegate-trimmed-tokens'] = String(trimmed.tokens);
  }

  stats(): Record<string, unknown> {
    return { trimmed_requests: this.trimmedRequests, dropped_messages: this.droppedMessages, refused: this.refused };
  }
}

/**
 * `context_trimming`: keeps a chat request under `max_input_tokens` (default: the context
 * window of the tightest target model, from the model table, minus the request's
 * `max_tokens` or the model's output limit), counted with the model family's tokenizer.
 * The oldest turns go first, whole (a tool call with its results); the system prompt and
 * the last user turn always stay. What went is answered in `x-sidegate-trimmed-messages`
 * and `x-sidegate-trimmed-tokens` and logged; a request that cannot fit is a 400
 * `context_length_exceeded`.
 */
export const contextTrimming: FeatureModule<ContextTrimmingConfig> = {
  name: 'context_trimming',
  order: ORDER.context_trimming,
  describe(c) {
    const limit = c.max_input_tokens ? `${c.max_input_tokens} input tokens` : "the target model's context window minus max_tokens";
    return `drops the oldest turns (tool calls with their results) to stay under ${limit}; keeps the system prompt and the last user turn`;
  },
  schema: {
    description:
      'Keeps chat requests under an input token limit by dropping the oldest non-system turns whole (a tool call and its results together). ' +
      'The system prompt and the last user turn always stay; a request that still does not fit gets 400 `context_length_exceeded`. ' +
      'Answers say what was dropped in `x-sidegate-trimmed-messages` and `x-sidegate-trimmed-tokens`.',
    type: 'object',
    additionalProperties: false,
    properties: {
      max_input_tokens: {
        description:
          "The most input tokens a request may have (1–10000000), counted with the model family's tokenizer. Default: the smallest context window among the router's target models (the model table) minus the request's `max_tokens` (or the model's output limit).",
        type: 'integer',
        minimum: 1,
        maximum: 10_000_000,
      },
    },
  },
  create(config, deps) {
    const fixed = deps.targets.every((t) => t.model !== null) ? tightestModel(deps.targets, undefined) : null;
    loadEncodingsFor(deps.targets.map((t) => t.model));
    return new ContextTrimmingStage(config.max_input_tokens ?? null, deps.targets, fixed);
  },
};
