/**
 * The tool loop's streamed answer: the rounds of one request stitched into the one stream
 * the client reads. Each round's events pass as they arrive, except:
 * - calls to MCP tools (the gateway runs them; the caller never sees them);
 * - the round's end (OpenAI: the finish chunk, the usage chunk, `[DONE]`; Anthropic:
 *   `message_delta`, `message_stop`), held until the round turns out to be the last;
 * - Anthropic: every `message_start` but the first, and content block indexes renumbered
 *   so the client sees one message.
 * Text a model says before it calls a tool thus reaches the client as part of the answer
 * (the "let me look that up" of chat assistants); the tool calls and results never do.
 */
import type { ApiFormat } from '../formats/format.js';
import type { Json } from '../formats/conversation.js';
import type { SseEvent } from '../pipeline/stage.js';
import { makeEvent } from '../upstream/sse.js';
import type { Usage } from '../upstream/usage.js';
import { plainStop, streamedTurn, writeUsage, type ToolCall } from './tool-turns.js';

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function parse(data: string | null): Json | null {
  if (data === null) return null;
  try {
    const value = JSON.parse(data) as unknown;
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** One round of a streamed answer as it is read. */
export interface StreamRound {
  /** Reads one upstream event; returns what the client gets of it now. */
  push(event: SseEvent): SseEvent[];
  /** The MCP tool calls the round made (complete once the round ended). */
  readonly mcpCalls: readonly ToolCall[];
  /** Calls to the caller's own tools (which then get the answer). */
  readonly callerCalls: number;
  /** The round's assistant turn, as a request message. */
  turn(): Json;
  /** The held end events, for the last round; `total`: every round's usage, written over the round's own. */
  release(total: Usage | null): SseEvent[];
}

/** Makes the rounds of one stream; holds what spans them (Anthropic's one message). */
export class StreamStitch {
  private started = false;
  private nextBlock = 0;

  constructor(private readonly format: ApiFormat) {}

  round(isMcp: (name: string) => boolean): StreamRound {
    return this.format === 'openai' ? new OpenAiRound(isMcp) : new AnthropicRound(this, isMcp);
  }

  /** Anthropic: whether this message_start is the stream's first (the only one sent). */
  firstStart(): boolean {
    const first = !this.started;
    this.started = true;
    return first;
  }

  /** Anthropic: the client's index of the next content block sent. */
  takeBlock(): number {
    return this.nextBlock++;
  }
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
}

class OpenAiRound implements StreamRound {
  private text = '';
  private readonly calls = new Map<number, PendingCall>();
  /** Upstream tool-call index → the client's index, for the caller's own calls. */
  private readonly callerIndex = new Map<number, number>();
  private held: Json[] = [];
  private done = false;

  constructor(private readonly isMcp: (name: string) => boolean) {}

  get mcpCalls(): ToolCall[] {
    return [...this.calls.values()].map((c) => ({ id: c.id, name: c.name, args: c.args }));
  }

  get callerCalls(): number {
    return this.callerIndex.size;
  }

  push(event: SseEvent): SseEvent[] {
    if (event.data === '[DONE]') {
      this.done = true;
      return [];
    }
    const value = parse(event.data);
    const choice = value && Array.isArray(value.choices) ? value.choices[0] : undefined;
    if (!value || !isObject(choice)) {
      // A usage-only chunk ends the round; anything else unreadable passes.
      if (value && isObject(value.usage)) {
        this.held.push(value);
        return [];
      }
      return [event];
    }
    const delta = isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string') this.text += delta.content;
    let changed = false;
    if (Array.isArray(delta.tool_calls)) {
      const kept: Json[] = [];
      for (const call of delta.tool_calls as unknown[]) {
        if (!isObject(call)) continue;
        const index = typeof call.index === 'number' ? call.index : 0;
        const fn = isObject(call.function) ? call.function : {};
        const pending = this.calls.get(index);
        if (pending) {
          if (typeof fn.arguments === 'string') pending.args += fn.arguments;
          continue;
        }
        let mapped = this.callerIndex.get(index);
        if (mapped === undefined && typeof fn.name === 'string' && this.isMcp(fn.name)) {
          this.calls.set(index, { id: String(call.id ?? ''), name: fn.name, args: typeof fn.arguments === 'string' ? fn.arguments : '' });
          continue;
        }
        if (mapped === undefined) this.callerIndex.set(index, (mapped = this.callerIndex.size));
        kept.push({ ...call, index: mapped });
      }
      if (kept.length) delta.tool_calls = kept;
      else delete delta.tool_calls;
      changed = true;
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
      this.held.push(value);
      const { content, refusal, role } = delta;
      if (typeof content !== 'string' || content.length === 0) return [];
      // Text in the finishing chunk itself is sent now; the finish waits.
      return [makeEvent(JSON.stringify({ ...value, choices: [{ ...choice, delta: { role, content, refusal }, finish_reason: null }] }))];
    }
    if (!changed) return [event];
    if (Object.keys(delta).length === 0) return [];
    return [makeEvent(JSON.stringify(value))];
  }

  turn(): Json {
    return streamedTurn('openai', this.text, this.mcpCalls, []);
  }

  release(total: Usage | null): SseEvent[] {
    const out: SseEvent[] = [];
    for (const value of this.held) {
      const choice = Array.isArray(value.choices) ? value.choices[0] : undefined;
      if (isObject(choice) && this.callerIndex.size === 0) choice.finish_reason = plainStop('openai', choice.finish_reason);
      if (isObject(choice) && isObject(choice.delta)) delete choice.delta.content;
      if (total && isObject(value.usage)) writeUsage('openai', value.usage, total);
      out.push(makeEvent(JSON.stringify(value)));
    }
    if (this.done) out.push(makeEvent('[DONE]'));
    return out;
  }
}

interface Block {
  /** The client's index, or -1 for a dropped (MCP tool) block. */
  readonly client: number;
  readonly value: Json;
  /** A tool_use block's input as its JSON arrives. */
  json: string;
}

class AnthropicRound implements StreamRound {
  private readonly blocks = new Map<number, Block>();
  private readonly order: Block[] = [];
  private held: SseEvent[] = [];
  private callers = 0;

  constructor(
    private readonly stitch: StreamStitch,
    private readonly isMcp: (name: string) => boolean,
  ) {}

  get mcpCalls(): ToolCall[] {
    const calls: ToolCall[] = [];
    for (const b of this.order) {
      if (b.client >= 0 || b.value.type !== 'tool_use') continue;
      calls.push({ id: String(b.value.id ?? ''), name: String(b.value.name), args: inputOf(b) });
    }
    return calls;
  }

  get callerCalls(): number {
    return this.callers;
  }

  private renumbered(event: SseEvent, value: Json, client: number): SseEvent {
    return makeEvent(JSON.stringify({ ...value, index: client }), event.event);
  }

  push(event: SseEvent): SseEvent[] {
    const value = parse(event.data);
    const type = value?.type ?? event.event;
    if (!value) return [event];
    switch (type) {
      case 'message_start':
        return this.stitch.firstStart() ? [event] : [];
      case 'content_block_start': {
        const block = isObject(value.content_block) ? { ...value.content_block } : {};
        const mcp = block.type === 'tool_use' && typeof block.name === 'string' && this.isMcp(block.name);
        if (block.type === 'tool_use' && !mcp) this.callers++;
        const b: Block = { client: mcp ? -1 : this.stitch.takeBlock(), value: block, json: '' };
        this.blocks.set(Number(value.index), b);
        this.order.push(b);
        return mcp ? [] : [this.renumbered(event, value, b.client)];
      }
      case 'content_block_delta': {
        const b = this.blocks.get(Number(value.index));
        if (!b) return [event];
        gather(b, isObject(value.delta) ? value.delta : {});
        return b.client < 0 ? [] : [this.renumbered(event, value, b.client)];
      }
      case 'content_block_stop': {
        const b = this.blocks.get(Number(value.index));
        if (!b) return [event];
        return b.client < 0 ? [] : [this.renumbered(event, value, b.client)];
      }
      case 'message_delta':
      case 'message_stop':
        this.held.push(event);
        return [];
      default:
        return [event];
    }
  }

  turn(): Json {
    const content = this.order.map((b) => (b.value.type === 'tool_use' ? { ...b.value, input: inputOf(b) } : b.value));
    return streamedTurn('anthropic', '', [], content);
  }

  release(total: Usage | null): SseEvent[] {
    return this.held.map((event) => {
      const value = parse(event.data);
      if (!value || value.type !== 'message_delta') return event;
      const delta = isObject(value.delta) ? value.delta : {};
      if (this.callers === 0) delta.stop_reason = plainStop('anthropic', delta.stop_reason);
      if (total) writeUsage('anthropic', (value.usage = isObject(value.usage) ? value.usage : {}) as Json, total);
      return makeEvent(JSON.stringify({ ...value, delta }), event.event);
    });
  }
}

/** Adds one delta to its block (text, a tool's input JSON, thinking and its signature). */
function gather(b: Block, delta: Json): void {
  const v = b.value;
  if (delta.type === 'text_delta' && typeof delta.text === 'string') v.text = String(v.text ?? '') + delta.text;
  else if (delta.type === 'input_json_delta' && typeof delta.partial_json === 'string') b.json += delta.partial_json;
  else if (delta.type === 'thinking_delta' && typeof delta.thinking === 'string') v.thinking = String(v.thinking ?? '') + delta.thinking;
  else if (delta.type === 'signature_delta' && typeof delta.signature === 'string') v.signature = String(v.signature ?? '') + delta.signature;
}

function inputOf(b: Block): Json {
  if (b.json.length === 0) return isObject(b.value.input) ? b.value.input : {};
  try {
    const value = JSON.parse(b.json) as unknown;
    return isObject(value) ? value : {};
  } catch {
    return {};
  }
}
