import { Readable } from 'node:stream';
import { anthropicEvent } from '../formats/anthropic.js';
import { lastUserText, promptTokens, reply, textOf, words, type Json, type MockAnswer } from './mock-replies.js';

/**
 * The mock's answers to Anthropic's Messages API (`POST /v1/messages`, streaming too, and
 * `/v1/messages/count_tokens`), in the shapes of Anthropic's API reference.
 */

function inputTokens(body: Json): number {
  return promptTokens(body.messages) + (body.system === undefined ? 0 : words(textOf(body.system)));
}

function event(name: string, data: Json): Buffer {
  return Buffer.from(anthropicEvent(name, data));
}

export function messages(body: Json, id: string, scripted?: string): MockAnswer {
  const model = typeof body.model === 'string' ? body.model : 'mock-1';
  const said = lastUserText(body.messages);
  const text = scripted ?? (said ? `This is the mock upstream. You said: ${said}` : 'This is the mock upstream.');
  const usage = { input_tokens: inputTokens(body), output_tokens: words(text), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
  const message = { id: `msg_${id}`, type: 'message', role: 'assistant', model, stop_sequence: null };
  if (body.stream !== true) {
    return reply(200, { ...message, content: [{ type: 'text', text }], stop_reason: 'end_turn', usage });
  }
  const events: Buffer[] = [
    event('message_start', { message: { ...message, content: [], stop_reason: null, usage: { ...usage, output_tokens: 1 } } }),
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('ping', {}),
  ];
  for (const piece of text.match(/\S+\s*/g) ?? []) events.push(event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } }));
  events.push(
    event('content_block_stop', { index: 0 }),
    event('message_delta', { delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }),
    event('message_stop', {}),
  );
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    body: Readable.from(events),
  };
}

export function countMessagesTokens(body: Json): MockAnswer {
  return reply(200, { input_tokens: inputTokens(body) });
}
