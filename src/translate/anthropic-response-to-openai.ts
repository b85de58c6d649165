/**
 * An Anthropic Messages answer as a chat completion, and its stream (message_start,
 * content_block_*, message_delta, message_stop, ping) as chat.completion.chunk events.
 */
import type { ChatRequestFacts } from './openai-request-to-anthropic.js';
import { finishReasonOf } from './finish-reasons.js';
import { isObject, unixSeconds, type Json } from './json.js';
import { openaiErrorOf } from './errors.js';
import type { StreamConverter } from './stream.js';
import { openaiUsageOf } from './usage.js';

export function anthropicMessageToOpenAI(message: Json, facts: ChatRequestFacts): Json {
  const content = Array.isArray(message.content) ? message.content : [];
  let text = '';
  const toolCalls: Json[] = [];
  for (const block of content) {
    if (!isObject(block)) continue;
    if (block.type === 'text') text += String(block.text ?? '');
    else if (block.type === 'tool_use') {
      if (facts.jsonTool !== null && block.name === facts.jsonTool) text += JSON.stringify(block.input ?? {});
      else toolCalls.push({ id: String(block.id ?? ''), type: 'function', function: { name: String(block.name ?? ''), arguments: JSON.stringify(block.input ?? {}) } });
    }
    // thinking and redacted_thinking blocks have no place in a chat completion
  }
  const forcedJson = facts.jsonTool !== null && message.stop_reason === 'tool_use' && toolCalls.length === 0;
  const out: Json = { role: 'assistant', content: text === '' && toolCalls.length ? null : text, refusal: null };
  if (toolCalls.length) out.tool_calls = toolCalls;
  return {
    id: String(message.id ?? ''),
    object: 'chat.completion',
    created: unixSeconds(),
    model: String(message.model ?? ''),
    choices: [{ index: 0, message: out, logprobs: null, finish_reason: forcedJson ? 'stop' : finishReasonOf(message.stop_reason) }],
    usage: openaiUsageOf(message.usage),
  };
}

/** Anthropic stream events → OpenAI chunks, block by block; tool input deltas become argument deltas. */
export class AnthropicToOpenAIStream implements StreamConverter {
  private id = '';
  private model = '';
  private readonly created = unixSeconds();
  private usage: Json = {};
  private finish: string | null = null;
  /** Content block index → tool call index (OpenAI counts tool calls, not blocks). */
  private readonly tools = new Map<number, number>();
  /** The block that carries the forced JSON answer, or -1. */
  private jsonBlock = -1;
  private done = false;

  constructor(private readonly facts: ChatRequestFacts) {}

  private chunk(delta: Json, finish: string | null = null): string {
    return `data: ${JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
  }

  event(name: string | null, data: string | null): string {
    if (data === null) return '';
    let e: Json;
    try {
      e = JSON.parse(data);
    } catch {
      return '';
    }
    switch (name ?? e.type) {
      case 'message_start': {
        const m = isObject(e.message) ? e.message : {};
        this.id = String(m.id ?? '');
        this.model = String(m.model ?? '');
        this.usage = { ...(isObject(m.usage) ? m.usage : {}) };
        return this.chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const block = isObject(e.content_block) ? e.content_block : {};
        if (block.type !== 'tool_use') return '';
        if (this.facts.jsonTool !== null && block.name === this.facts.jsonTool) {
          this.jsonBlock = e.index;
          return '';
        }
        const n = this.tools.size;
        this.tools.set(e.index, n);
        return this.chunk({ tool_calls: [{ index: n, id: String(block.id ?? ''), type: 'function', function: { name: String(block.name ?? ''), arguments: '' } }] });
      }
      case 'content_block_delta': {
        const d = isObject(e.delta) ? e.delta : {};
        if (d.type === 'text_delta') return this.chunk({ content: String(d.text ?? '') });
        if (d.type !== 'input_json_delta') return ''; // thinking and signature deltas
        const partial = String(d.partial_json ?? '');
        if (e.index === this.jsonBlock) return partial ? this.chunk({ content: partial }) : '';
        const n = this.tools.get(e.index);
        return n === undefined || partial === '' ? '' : this.chunk({ tool_calls: [{ index: n, function: { arguments: partial } }] });
      }
      case 'message_delta': {
        const d = isObject(e.delta) ? e.delta : {};
        if (isObject(e.usage)) for (const key in e.usage) if (e.usage[key] !== null && e.usage[key] !== undefined) this.usage[key] = e.usage[key];
        const forcedJson = this.jsonBlock >= 0 && d.stop_reason === 'tool_use' && this.tools.size === 0;
        this.finish = forcedJson ? 'stop' : finishReasonOf(d.stop_reason);
        return this.chunk({}, this.finish);
      }
      case 'message_stop':
        return this.close();
      case 'error':
        this.done = true;
        return `data: ${JSON.stringify(openaiErrorOf(529, e).body)}\n\n`;
      default:
        return ''; // ping, content_block_stop, and event types added later
    }
  }

  private close(): string {
    if (this.done) return '';
    this.done = true;
    const usage = this.facts.includeUsage
      ? `data: ${JSON.stringify({ id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model, choices: [], usage: openaiUsageOf(this.usage) })}\n\n`
      : '';
    return `${usage}data: [DONE]\n\n`;
  }

  end(): string {
    if (this.done) return '';
    throw Object.assign(new Error('the upstream ended the stream before message_stop'), { code: 'UPSTREAM_STREAM_CUT' });
  }
}
