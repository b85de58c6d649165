import type { Counter } from 'prom-client';
import { isSystemMessage, messagesOf, messageText, type Json } from '../formats/conversation.js';
import type { RequestContext } from '../pipeline/context.js';
import { slot } from '../pipeline/slot.js';
import type { Stage } from '../pipeline/stage.js';
import type { ResponseHead } from '../providers/provider.js';
import { countMessageTokens, countTokens, loadEncodingsFor } from '../tokens/index.js';
import type { FeatureModule } from './feature.js';
import { ORDER } from './feature.js';

export interface TokenOptimizationConfig {
  whitespace?: boolean;
  duplicate_system?: boolean;
  empty_messages?: boolean;
  minify_json?: boolean;
}

const FENCE = /(```[^\n]*\n[\s\S]*?```)/;
const JSON_FENCE = /^```json[^\n]*\n([\s\S]*?)```$/;
const RUNS = /(\S)[ \t]{2,}/g;
const TRAILING = /[ \t]+$/gm;
const BLANK_LINES = /\n{3,}/g;

/** Whitespace removed outside JSON strings: the same value, byte for byte, with no parse-and-print (which would round numbers). */
export function minifyJson(text: string): string | null {
  const t = text.trim();
  const first = t.charCodeAt(0);
  if (!((first === 0x7b && t.endsWith('}')) || (first === 0x5b && t.endsWith(']')))) return null;
  try {
    JSON.parse(t);
  } catch {
    return null;
  }
  let out = '';
  let inString = false;
  let from = 0;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      out += t.slice(from, i);
      from = i + 1;
    }
  }
  return out + t.slice(from);
}

/**
 * Prose with its whitespace folded: runs of spaces inside a line become one, trailing
 * spaces go, three or more line breaks become a blank line. Leading indentation stays
 * (it nests Markdown lists), and fenced code blocks are left as they are (a ```json block
 * is minified when `json` is set).
 */
export function foldText(text: string, whitespace: boolean, json: boolean): string {
  if (json) {
    const whole = minifyJson(text);
    if (whole !== null) return whole;
  }
  if (!whitespace && !json) return text;
  const parts = text.split(FENCE);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 1) {
      const inner = json ? JSON_FENCE.exec(part) : null;
      const minified = inner ? minifyJson(inner[1]!) : null;
      if (minified !== null) parts[i] = `${part.slice(0, part.indexOf('\n') + 1)}${minified}\n\`\`\``;
    } else if (whitespace) {
      parts[i] = part.replace(RUNS, '$1 ').replace(TRAILING, '').replace(BLANK_LINES, '\n\n');
    }
  }
  return parts.join('');
}

function isEmpty(message: Json): boolean {
  if (Array.isArray(message.tool_calls) && message.tool_calls.length) return false;
  const content = message.content;
  if (content === '' || content === null || content === undefined) return true;
  return Array.isArray(content) && content.length === 0;
}

const SAVED = slot<number>('token_optimization');

class TokenOptimizationStage implements Stage {
  readonly name = 'token_optimization';
  private savedTotal = 0;
  /** Texts folded by the current onRequest (synchronous, so one request at a time). */
  private folded = 0;
  private optimized = 0;

  constructor(
    private readonly whitespace: boolean,
    private readonly duplicateSystem: boolean,
    private readonly emptyMessages: boolean,
    private readonly json: boolean,
    private readonly savedCounter: ReturnType<Counter['labels']>,
  ) {}

  /** Folds the text at `holder[key]` in place; returns the tokens it saved. */
  private foldAt(holder: Json, key: string, model: string | undefined): number {
    const text = holder[key] as string;
    const folded = foldText(text, this.whitespace, this.json);
    if (folded === text) return 0;
    holder[key] = folded;
    this.folded++;
    return countTokens(text, model) - countTokens(folded, model);
  }

  /** Folds a `content` (a string, or text parts) in place; returns the tokens saved . */
  private foldContent(holder: Json, key: string, model: string | undefined): number {
    const content = holder[key];
    if (typeof content === 'string') return this.foldAt(holder, key, model);
    let saved = 0;
    if (Array.isArray(content)) {
      for (const part of content) if (part && typeof part === 'object' && typeof (part as Json).text === 'string') saved += this.foldAt(part as Json, 'text', model);
    }
    return saved;
  }

  onRequest(ctx: RequestContext): void {
    const body = ctx.body;
    const messages = messagesOf(body);
    if (!body || !messages) return;
    const format = ctx.format.name;
    const model = ctx.model;
    let saved = 0;
    let changed = false;
    this.folded = 0;
    const seenSystem = new Set<string>();
    const kept: Json[] = [];
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      const last = i === messages.length - 1;
      if (this.emptyMessages && !last && message.role !== 'tool' && isEmpty(message)) {
        saved += countMessageTokens(message, model);
        changed = true;
        continue;
      }
      if (this.duplicateSystem && isSystemMessage(format, message)) {
        const text = messageText(message);
        if (seenSystem.has(text)) {
          saved += countMessageTokens(message, model);
          changed = true;
          continue;
        }
        seenSystem.add(text);
      }
      if (this.whitespace || this.json) saved += this.foldContent(message, 'content', model);
      kept.push(message);
    }
    if (format === 'anthropic' && body.system !== undefined && (this.whitespace || this.json)) saved += this.foldContent(body, 'system', model);
    if (!changed && this.folded === 0) return;
    if (kept.length !== messages.length) body.messages = kept;
    ctx.markBodyChanged();
    this.optimized++;
    if (saved <= 0) return;
    this.savedTotal += saved;
    this.savedCounter.inc(saved);
    ctx.set(SAVED, saved);
    ctx.note('tokens_saved', saved);
  }

  onResponse(ctx: RequestContext, head: ResponseHead): void {
    const saved = ctx.get(SAVED);
    if (saved !== undefined) head.headers['x-sidegate-tokens-saved'] = String(saved);
  }

  stats(): Record<string, unknown> {
    return { optimized_requests: this.optimized, tokens_saved: this.savedTotal };
  }
}

/**
 * `token_optimization`: loss-free shrinking of chat requests before they are sent:
 * whitespace folded outside code blocks, repeated system messages and empty messages
 * dropped, JSON in prompts minified (whitespace only: the values stay byte for byte).
 * The tokens saved are counted with the model's tokenizer, answered in
 * `x-sidegate-tokens-saved`, logged and added to `ai_gateway_tokens_saved_total`.
 */
export const tokenOptimization: FeatureModule<TokenOptimizationConfig> = {
  name: 'token_optimization',
  order: ORDER.token_optimization,
  describe(c) {
    const on = (['whitespace', 'duplicate_system', 'empty_messages', 'minify_json'] as const).filter((k) => c[k] !== false);
    return on.length ? `loss-free shrinking: ${on.join(', ')}; tokens saved in x-sidegate-tokens-saved` : 'nothing enabled';
  },
  schema: {
    description:
      'Loss-free request shrinking: whitespace folding outside code blocks, repeated system messages and empty messages dropped, JSON in prompts minified. ' +
      'The tokens saved are answered in `x-sidegate-tokens-saved`, logged, and counted in `ai_gateway_tokens_saved_total`. Each step is on unless set to false.',
    type: 'object',
    additionalProperties: false,
    properties: {
      whitespace: { description: 'Fold runs of spaces, trailing spaces and runs of blank lines in prose (never in fenced code blocks, never leading indentation). Default true.', type: 'boolean', default: true },
      duplicate_system: { description: 'Drop a system message whose text repeats an earlier one. Default true.', type: 'boolean', default: true },
      empty_messages: { description: 'Drop messages with no content (except tool results, tool calls and the last message). Default true.', type: 'boolean', default: true },
      minify_json: { description: 'Strip the whitespace of a message that is JSON, and of ```json code blocks (values unchanged, byte for byte). Default true.', type: 'boolean', default: true },
    },
  },
  create(config, deps) {
    loadEncodingsFor(deps.targets.map((t) => t.model));
    const counter = deps.metrics.counter('ai_gateway_tokens_saved_total', 'Input tokens removed from requests before they were sent, by router and feature.', ['router', 'feature']);
    return new TokenOptimizationStage(
      config.whitespace !== false,
      config.duplicate_system !== false,
      config.empty_messages !== false,
      config.minify_json !== false,
      counter.labels(deps.routerName, 'token_optimization'),
    );
  },
};
