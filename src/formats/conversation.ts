import type { ApiFormat } from './format.js';
import type { SseEvent } from '../pipeline/stage.js';
import { contentText } from '../tokens/index.js';

/**
 * The conversation of a chat request and the text of its answer, in either wire format
 * (OpenAI chat completions, Anthropic messages), for the features that read or reshape
 * what the model sees and says. Everything works on the caller's format: a provider that
 * translates does so after these features ran.
 */

export type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The request's `messages`, when it is a chat request whose messages are all objects. */
export function messagesOf(body: Json | undefined): Json[] | null {
  const messages = body?.messages;
  if (!Array.isArray(messages) || !messages.every(isObject)) return null;
  return messages as Json[];
}

/** An OpenAI system (or developer) message; Anthropic keeps its system prompt beside the messages. */
export function isSystemMessage(format: ApiFormat, message: Json): boolean {
  return format === 'openai' && (message.role === 'system' || message.role === 'developer');
}

function blocks(message: Json): Json[] {
  return Array.isArray(message.content) ? (message.content as unknown[]).filter(isObject) : [];
}

/** An assistant turn that calls tools (its results follow it). */
function callsTools(format: ApiFormat, message: Json): boolean {
  if (message.role !== 'assistant') return false;
  if (format === 'openai') return Array.isArray(message.tool_calls) && message.tool_calls.length > 0;
  return blocks(message).some((b) => b.type === 'tool_use');
}

/** A turn that carries tool results (OpenAI `role: tool`; Anthropic user `tool_result` blocks). */
function carriesToolResults(format: ApiFormat, message: Json): boolean {
  if (format === 'openai') return message.role === 'tool' || message.role === 'function';
  return message.role === 'user' && blocks(message).some((b) => b.type === 'tool_result');
}

/** `[start, end)` of a run of messages that are kept or dropped together. */
export interface TurnGroup {
  readonly start: number;
  readonly end: number;
}

/**
 * The non-system messages in groups that must stay together: a turn that calls tools
 * with the turns that carry its results; every other message alone.
 */
export function turnGroups(format: ApiFormat, messages: readonly Json[]): TurnGroup[] {
  const groups: TurnGroup[] = [];
  let i = 0;
  while (i < messages.length) {
    const message = messages[i]!;
    if (isSystemMessage(format, message)) {
      i++;
      continue;
    }
    let end = i + 1;
    if (callsTools(format, message)) while (end < messages.length && carriesToolResults(format, messages[end]!)) end++;
    groups.push({ start: i, end });
    i = end;
  }
  return groups;
}

/**
 * The index in `groups` where the protected tail begins: the group holding the last user
 * message (the turn being answered), and everything after it. -1 when there is no user message.
 */
export function lastUserGroup(groups: readonly TurnGroup[], messages: readonly Json[]): number {
  for (let g = groups.length - 1; g >= 0; g--) {
    const { start, end } = groups[g]!;
    for (let i = start; i < end; i++) if (messages[i]!.role === 'user') return g;
  }
  return -1;
}

/** The text of a message, for a transcript or a check. */
export function messageText(message: Json): string {
  return contentText(message.content).text;
}

/** Messages as a plain transcript ("role: text" per message), for a summary prompt. */
export function transcript(messages: readonly Json[]): string {
  const lines: string[] = [];
  for (const m of messages) {
    let text = messageText(m);
    if (Array.isArray(m.tool_calls)) text += ` [tool calls: ${JSON.stringify(m.tool_calls)}]`;
    lines.push(`${String(m.role ?? 'unknown')}: ${text}`);
  }
  return lines.join('\n\n');
}

/** What an answer says, as the checks read it. */
export interface AnswerText {
  /** The answer's text (the first choice's content for OpenAI, the text blocks for Anthropic). */
  text: string;
  /** The answer calls tools instead of (or besides) saying something. */
  toolCalls: boolean;
  /** OpenAI's explicit refusal field, when the model used it. */
  refusal: string | null;
}

/** The answer of a non-streamed chat response body, or null when it is not one. */
export function answerOfBody(format: ApiFormat, body: unknown): AnswerText | null {
  if (!isObject(body)) return null;
  if (format === 'openai') {
    const choice = Array.isArray(body.choices) ? body.choices[0] : undefined;
    const message = isObject(choice) && isObject(choice.message) ? choice.message : null;
    if (!message) return null;
    return {
      text: typeof message.content === 'string' ? message.content : messageText(message),
      toolCalls: Array.isArray(message.tool_calls) && message.tool_calls.length > 0,
      refusal: typeof message.refusal === 'string' ? message.refusal : null,
    };
  }
  if (!Array.isArray(body.content)) return null;
  let text = '';
  let toolCalls = false;
  for (const block of body.content as unknown[]) {
    if (!isObject(block)) continue;
    if (block.type === 'text' && typeof block.text === 'string') text += block.text;
    else if (block.type === 'tool_use') toolCalls = true;
  }
  return { text, toolCalls, refusal: null };
}

/**
 * Gathers a streamed answer's text event by event (OpenAI `choices[0].delta`, Anthropic
 * `content_block_delta`), and tells which event ends the answer (`[DONE]`, `message_stop`).
 */
export class StreamAnswer implements AnswerText {
  text = '';
  toolCalls = false;
  refusal: string | null = null;
  /** Bytes of text gathered, bounded by the caller. */
  get size(): number {
    return this.text.length;
  }

  constructor(private readonly format: ApiFormat) {}

  /** Reads one event; returns true when it is the one that ends the answer. */
  push(event: SseEvent): boolean {
    const data = event.data;
    if (data === null) return false;
    if (this.format === 'openai') {
      if (data === '[DONE]') return true;
      if (!data.includes('"delta"')) return false;
      const value = parse(data);
      const choice = Array.isArray(value?.choices) ? value.choices[0] : undefined;
      const delta = isObject(choice) && isObject(choice.delta) ? choice.delta : null;
      if (!delta) return false;
      if (typeof delta.content === 'string') this.text += delta.content;
      if (typeof delta.refusal === 'string') this.refusal = (this.refusal ?? '') + delta.refusal;
      if (Array.isArray(delta.tool_calls) && delta.tool_calls.length) this.toolCalls = true;
      return false;
    }
    if (event.event === 'message_stop' || data.includes('"message_stop"')) return true;
    if (!data.includes('content_block')) return false;
    const value = parse(data);
    if (value?.type === 'content_block_start' && isObject(value.content_block) && value.content_block.type === 'tool_use') this.toolCalls = true;
    if (value?.type === 'content_block_delta' && isObject(value.delta) && value.delta.type === 'text_delta' && typeof value.delta.text === 'string') {
      this.text += value.delta.text;
    }
    return false;
  }
}

function parse(data: string): Json | null {
  try {
    const value = JSON.parse(data) as unknown;
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/**
 * Appends the model's rejected answer and a user turn asking again (for a repair try).
 * Both formats take the same two turns.
 */
export function appendRepairTurns(body: Json, answer: string, instruction: string): void {
  const messages = Array.isArray(body.messages) ? [...(body.messages as unknown[])] : [];
  messages.push({ role: 'assistant', content: answer.length ? answer : '(empty answer)' }, { role: 'user', content: instruction });
  body.messages = messages;
}

/** The JSON Schema the request asks the answer to follow (OpenAI `response_format`, Anthropic `output_format`), or null. */
export function requestedSchema(format: ApiFormat, body: Json | undefined): { schema: Json | null; json: boolean } | null {
  if (!body) return null;
  if (format === 'openai') {
    const rf = body.response_format;
    if (!isObject(rf)) return null;
    if (rf.type === 'json_schema' && isObject(rf.json_schema) && isObject(rf.json_schema.schema)) return { schema: rf.json_schema.schema, json: true };
    if (rf.type === 'json_object') return { schema: null, json: true };
    return null;
  }
  const of = body.output_format;
  if (isObject(of) && of.type === 'json_schema' && isObject(of.schema)) return { schema: of.schema, json: true };
  return null;
}
