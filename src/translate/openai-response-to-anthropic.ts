/**
 * A chat completion as an Anthropic Messages answer, and its chunks as Anthropic's event
 * grammar: message_start, ping, content_block_start/delta/stop per block (thinking from
 * `reasoning_content`, text, one tool_use per tool call), message_delta with the stop
 * reason and usage, message_stop.
 */
import type { MessagesRequestFacts } from './anthropic-request-to-openai.js';
import { anthropicEvent } from '../formats/anthropic.js';
import { anthropicErrorOf } from './errors.js';
import { stopReasonOf } from './finish-reasons.js';
import { isObject, parseArguments, type Json } from './json.js';
import type { StreamConverter } from './stream.js';
import { anthropicUsageOf } from './usage.js';

function messageId(id: unknown): string {
  const text = typeof id === 'string' && id ? id : `${Date.now()}`;
  return text.startsWith('msg_') ? text : `msg_${text}`;
}

export function openaiCompletionToAnthropic(completion: Json, facts: MessagesRequestFacts): Json {
  const choice = Array.isArray(completion.choices) && isObject(completion.choices[0]) ? completion.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : {};
  const content: Json[] = [];
  if (typeof message.reasoning_content === 'string' && message.reasoning_content) {
    content.push({ type: 'thinking', thinking: message.reasoning_content, signature: '' });
  }
  if (typeof message.content === 'string' && message.content) content.push({ type: 'text', text: message.content });
  if (typeof message.refusal === 'string' && message.refusal) content.push({ type: 'text', text: message.refusal });
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls) {
      if (!isObject(call) || !isObject(call.function)) continue;
      content.push({ type: 'tool_use', id: String(call.id ?? ''), name: String(call.function.name ?? ''), input: parseArguments(call.function.arguments) });
    }
  }
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model: typeof completion.model === 'string' && completion.model ? completion.model : facts.model,
    content,
    stop_reason: stopReasonOf(choice.finish_reason),
    stop_sequence: null,
    usage: anthropicUsageOf(completion.usage),
  };
}

type Block = 'thinking' | 'text' | 'tool_use';

/** OpenAI chunks → Anthropic events. Usage arrives in OpenAI's last chunk, so message_delta carries all of it. */
export class OpenAIToAnthropicStream implements StreamConverter {
  private started = false;
  private done = false;
  /** The open block: its kind and index, or null. */
  private open: { kind: Block; index: number; tool: number } | null = null;
  private blocks = 0;
  private stopReason: string | null = null;
  private usage: Json | null = null;

  constructor(private readonly facts: MessagesRequestFacts) {}

  private start(chunk: Json): string {
    if (this.started) return '';
    this.started = true;
    const message = {
      id: messageId(chunk.id),
      type: 'message',
      role: 'assistant',
      model: typeof chunk.model === 'string' && chunk.model ? chunk.model : this.facts.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    return anthropicEvent('message_start', { message }) + anthropicEvent('ping', {});
  }

  /** Closes the open block and opens one of `kind` (a new one for every tool call). */
  private switchTo(kind: Block, tool = -1, first: Json = {}): string {
    if (this.open && this.open.kind === kind && this.open.tool === tool) return '';
    let out = this.closeBlock();
    const index = this.blocks++;
    this.open = { kind, index, tool };
    const block = kind === 'text' ? { type: 'text', text: '' } : kind === 'thinking' ? { type: 'thinking', thinking: '', signature: '' } : { type: 'tool_use', input: {}, ...first };
    out += anthropicEvent('content_block_start', { index, content_block: block });
    return out;
  }

  private closeBlock(): string {
    if (!this.open) return '';
    const out = anthropicEvent('content_block_stop', { index: this.open.index });
    this.open = null;
    return out;
  }

  event(_name: string | null, data: string | null): string {
    if (data === null || this.done) return '';
    if (data.trim() === '[DONE]') return this.finish();
    let chunk: Json;
    try {
      chunk = JSON.parse(data);
    } catch {
      return '';
    }
    if (isObject(chunk.error)) {
      this.done = true;
      return anthropicEvent('error', { error: anthropicErrorOf(500, chunk).body.error });
    }
    let out = this.start(chunk);
    if (isObject(chunk.usage)) this.usage = chunk.usage;
    const choice = Array.isArray(chunk.choices) && isObject(chunk.choices[0]) ? chunk.choices[0] : null;
    if (!choice) return out;
    const delta = isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.reasoning_content === 'string' && delta.reasoning_content) {
      out += this.switchTo('thinking');
      out += anthropicEvent('content_block_delta', { index: this.open!.index, delta: { type: 'thinking_delta', thinking: delta.reasoning_content } });
    }
    if (typeof delta.content === 'string' && delta.content) {
      out += this.switchTo('text');
      out += anthropicEvent('content_block_delta', { index: this.open!.index, delta: { type: 'text_delta', text: delta.content } });
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        if (!isObject(call)) continue;
        const tool = typeof call.index === 'number' ? call.index : 0;
        const fn = isObject(call.function) ? call.function : {};
        out += this.switchTo('tool_use', tool, { id: String(call.id ?? ''), name: String(fn.name ?? '') });
        if (typeof fn.arguments === 'string' && fn.arguments) {
          out += anthropicEvent('content_block_delta', { index: this.open!.index, delta: { type: 'input_json_delta', partial_json: fn.arguments } });
        }
      }
    }
    if (choice.finish_reason) {
      out += this.closeBlock();
      this.stopReason = stopReasonOf(choice.finish_reason);
    }
    return out;
  }

  private finish(): string {
    this.done = true;
    let out = this.closeBlock();
    const usage = anthropicUsageOf(this.usage);
    out += anthropicEvent('message_delta', { delta: { stop_reason: this.stopReason ?? 'end_turn', stop_sequence: null }, usage });
    out += anthropicEvent('message_stop', {});
    return out;
  }

  end(): string {
    if (this.done) return '';
    // OpenAI ends a stream with [DONE]; without it (and without a finish reason) the stream was cut.
    if (this.stopReason === null) throw Object.assign(new Error('the upstream ended the stream before it finished'), { code: 'UPSTREAM_STREAM_CUT' });
    return this.finish();
  }
}
