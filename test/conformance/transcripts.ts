/**
 * Upstream transcripts in each provider's published wire format (OpenAI's Chat
 * Completions reference, Anthropic's Messages and Streaming references): one answer as
 * JSON, and the same answer as the stream that API sends for it.
 */
import type { ServerResponse } from 'node:http';
import type { Received, Step } from '../support/mock-upstream.js';

type Json = Record<string, any>;

/** Splits a string in two (streams send text and tool arguments in pieces). */
function halves(text: string): string[] {
  if (text.length < 2) return [text];
  const mid = Math.ceil(text.length / 2);
  return [text.slice(0, mid), text.slice(mid)];
}

/** An Anthropic message (Messages API reference: the response body). */
export function anthropicMessage(content: Json[], stop_reason: string, usage: Json = { input_tokens: 12, output_tokens: 6 }, model = 'claude-sonnet-4-5-20250929'): Json {
  return { id: 'msg_01XFDUDYJgAACzvnptvVoYEL', type: 'message', role: 'assistant', model, content, stop_reason, stop_sequence: stop_reason === 'stop_sequence' ? 'END' : null, usage };
}

/** The events Anthropic streams for `message` (Streaming reference: message_start, blocks, ping, message_delta, message_stop). */
export function anthropicEvents(message: Json): Json[] {
  const { content, usage, stop_reason, stop_sequence, ...head } = message;
  const events: Json[] = [
    { type: 'message_start', message: { ...head, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } },
  ];
  content.forEach((block: Json, index: number) => {
    if (block.type === 'text') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      if (index === 0) events.push({ type: 'ping' });
      for (const text of halves(block.text)) events.push({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
    } else if (block.type === 'thinking') {
      events.push({ type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } });
      for (const thinking of halves(block.thinking)) events.push({ type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } });
      events.push({ type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } });
    } else {
      events.push({ type: 'content_block_start', index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
      for (const partial_json of halves(JSON.stringify(block.input))) events.push({ type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
    }
    events.push({ type: 'content_block_stop', index });
  });
  events.push({ type: 'message_delta', delta: { stop_reason, stop_sequence }, usage: { output_tokens: usage.output_tokens } });
  events.push({ type: 'message_stop' });
  return events;
}

/** A chat completion (Chat Completions reference: the chat completion object). */
export function openaiCompletion(message: Json, finish_reason: string, usage: Json = { prompt_tokens: 12, completion_tokens: 6, total_tokens: 18 }, model = 'gpt-4o-2024-08-06'): Json {
  return {
    id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
    object: 'chat.completion',
    created: 1741570283,
    model,
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, logprobs: null, finish_reason }],
    usage,
    system_fingerprint: 'fp_fc9f1d7035',
  };
}

/** The chunks OpenAI streams for `completion` with `stream_options.include_usage` (the chat completion chunk object). */
export function openaiChunks(completion: Json): Json[] {
  const { choices, usage, object: _object, ...head } = completion;
  const base = { ...head, object: 'chat.completion.chunk' };
  const choice = choices[0];
  const message = choice.message;
  const chunk = (delta: Json, finish_reason: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason }] });
  const out: Json[] = [chunk({ role: 'assistant', content: '', refusal: null })];
  if (message.reasoning_content) for (const piece of halves(message.reasoning_content)) out.push(chunk({ reasoning_content: piece }));
  if (message.content) for (const content of halves(message.content)) out.push(chunk({ content }));
  (message.tool_calls ?? []).forEach((call: Json, index: number) => {
    out.push(chunk({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } }] }));
    for (const args of halves(call.function.arguments)) out.push(chunk({ tool_calls: [{ index, function: { arguments: args } }] }));
  });
  out.push(chunk({}, choice.finish_reason));
  out.push({ ...base, choices: [], usage });
  return out;
}

/** Upstream steps: an answer as JSON, or as that API's stream (the request's `stream` decides). */
export function answer(format: 'openai' | 'anthropic', body: Json, headers: Record<string, string> = {}): Step {
  return (req: Received, res: ServerResponse) => {
    if (req.json().stream !== true) {
      const bytes = JSON.stringify(body);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bytes), ...headers });
      res.end(bytes);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
    if (format === 'anthropic') for (const e of anthropicEvents(body)) res.write(`event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    else {
      for (const c of openaiChunks(body)) res.write(`data: ${JSON.stringify(c)}\n\n`);
      res.write('data: [DONE]\n\n');
    }
    res.end();
  };
}

/** An upstream error in that API's format (its Errors reference), with extra headers. */
export function failure(format: 'openai' | 'anthropic', status: number, type: string, message: string, headers: Record<string, string> = {}): Step {
  const body = format === 'anthropic' ? { type: 'error', error: { type, message }, request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy' } : { error: { message, type, param: null, code: type } };
  return (_req, res) => {
    const bytes = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bytes), ...headers });
    res.end(bytes);
  };
}

/** Streams the first `count` events of an answer, then resets the connection (an upstream dying mid-stream). */
export function dies(format: 'openai' | 'anthropic', body: Json, count: number): Step {
  return async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const events = format === 'anthropic' ? anthropicEvents(body).map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`) : openaiChunks(body).map((c) => `data: ${JSON.stringify(c)}\n\n`);
    for (const e of events.slice(0, count)) res.write(e);
    await new Promise((resolve) => setTimeout(resolve, 20));
    res.socket?.resetAndDestroy();
  };
}

/** Streams the first `count` events, then holds the stream open until the other side goes. */
export function stalls(format: 'openai' | 'anthropic', body: Json, count: number): Step {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const events = format === 'anthropic' ? anthropicEvents(body).map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`) : openaiChunks(body).map((c) => `data: ${JSON.stringify(c)}\n\n`);
    for (const e of events.slice(0, count)) res.write(e);
    return new Promise<void>((resolve) => res.once('close', () => resolve()));
  };
}
