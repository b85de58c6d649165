/**
 * An Anthropic Messages request as a chat completion request (OpenAI), for OpenAI-format
 * upstreams. Blocks without an OpenAI equivalent are refused with a 400 naming them;
 * thinking blocks of earlier turns and `top_k` are dropped (README: what is translated).
 */
import { isObject, type Json } from './json.js';
import { refuse } from './refuse.js';
import type { TranslatedRequest } from './openai-request-to-anthropic.js';

export interface MessagesRequestFacts {
  /** The model the caller named, for the answer's `model` when the upstream reports another. */
  readonly model: string;
}

export interface ChatRequestOptions {
  /** `max_completion_tokens` (OpenAI, Azure) or `max_tokens` (older OpenAI-compatible servers). */
  readonly maxTokensField: 'max_completion_tokens' | 'max_tokens';
}

function textOf(content: unknown, where: string): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((b, i) => (isObject(b) && b.type === 'text' ? String(b.text ?? '') : refuse(`${where}[${i}]`, `${where}[${i}] must be a text block.`)))
    .join('\n');
}

function imagePart(block: Json, where: string): Json {
  const source = isObject(block.source) ? block.source : {};
  if (source.type === 'base64') return { type: 'image_url', image_url: { url: `data:${String(source.media_type)};base64,${String(source.data ?? '')}` } };
  if (source.type === 'url') return { type: 'image_url', image_url: { url: String(source.url ?? '') } };
  return refuse(`${where}.source`, 'Images must have a base64 or url source to be sent to an OpenAI-format upstream.');
}

function userMessages(content: unknown, where: string): Json[] {
  if (typeof content === 'string') return [{ role: 'user', content }];
  if (!Array.isArray(content)) refuse(`${where}.content`, `${where}.content must be a string or an array of blocks.`);
  const out: Json[] = [];
  const parts: Json[] = [];
  content.forEach((block, i) => {
    const at = `${where}.content[${i}]`;
    if (!isObject(block)) refuse(at, `${at} must be an object.`);
    if (block.type === 'text') parts.push({ type: 'text', text: String(block.text ?? '') });
    else if (block.type === 'image') parts.push(imagePart(block, at));
    else if (block.type === 'tool_result') {
      // OpenAI wants each tool result as its own `tool` message, right after the call.
      const text = typeof block.content === 'string' ? block.content : textOf(block.content ?? '', `${at}.content`);
      out.push({ role: 'tool', tool_call_id: String(block.tool_use_id ?? ''), content: block.is_error === true ? `Error: ${text}` : text });
    } else refuse(`${at}.type`, `Blocks of type "${String(block.type)}" cannot be sent to an OpenAI-format upstream.`);
  });
  if (parts.length) out.push({ role: 'user', content: parts.every((p) => p.type === 'text') ? parts.map((p) => p.text).join('\n') : parts });
  return out;
}

function assistantMessage(content: unknown, where: string): Json {
  if (typeof content === 'string') return { role: 'assistant', content };
  if (!Array.isArray(content)) refuse(`${where}.content`, `${where}.content must be a string or an array of blocks.`);
  let text = '';
  const calls: Json[] = [];
  content.forEach((block, i) => {
    const at = `${where}.content[${i}]`;
    if (!isObject(block)) refuse(at, `${at} must be an object.`);
    if (block.type === 'text') text += String(block.text ?? '');
    else if (block.type === 'tool_use') calls.push({ id: String(block.id ?? ''), type: 'function', function: { name: String(block.name ?? ''), arguments: JSON.stringify(block.input ?? {}) } });
    else if (block.type === 'thinking' || block.type === 'redacted_thinking') return;
    else refuse(`${at}.type`, `Blocks of type "${String(block.type)}" cannot be sent to an OpenAI-format upstream.`);
  });
  const out: Json = { role: 'assistant', content: text === '' && calls.length ? null : text };
  if (calls.length) out.tool_calls = calls;
  return out;
}

function convertTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) refuse('tools', '`tools` must be an array.');
  return tools.map((tool, i) => {
    if (!isObject(tool) || (tool.type !== undefined && tool.type !== 'custom') || typeof tool.name !== 'string') {
      refuse(`tools[${i}]`, 'Only client tools (name, input_schema) can be sent to an OpenAI-format upstream; server tools run at Anthropic.');
    }
    const fn: Json = { name: tool.name, parameters: isObject(tool.input_schema) ? tool.input_schema : { type: 'object', properties: {} } };
    if (typeof tool.description === 'string') fn.description = tool.description;
    return { type: 'function', function: fn };
  });
}

function convertToolChoice(choice: Json): unknown {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: String(choice.name ?? '') } };
  }
  return refuse('tool_choice', '`tool_choice.type` must be auto, any, tool or none.');
}

/** Anthropic's structured outputs (`output_format: { type: json_schema, schema }`) as OpenAI's `response_format`. */
function convertOutputFormat(format: unknown): Json {
  if (!isObject(format) || format.type !== 'json_schema' || !isObject(format.schema)) {
    return refuse('output_format', '`output_format` must be `{ type: "json_schema", schema: {...} }` to be sent to an OpenAI-format upstream.');
  }
  return { type: 'json_schema', json_schema: { name: 'output', schema: format.schema } };
}

export function anthropicRequestToOpenAI(body: Json, options: ChatRequestOptions): TranslatedRequest<MessagesRequestFacts> {
  if (!Array.isArray(body.messages) || body.messages.length === 0) refuse('messages', '`messages` must be a non-empty array.');
  const model = typeof body.model === 'string' ? body.model : '';
  const messages: Json[] = [];
  if (body.system !== undefined) {
    const system = textOf(body.system, 'system');
    if (system) messages.push({ role: 'system', content: system });
  }
  body.messages.forEach((message: unknown, i: number) => {
    const where = `messages[${i}]`;
    if (!isObject(message)) refuse(where, `${where} must be an object.`);
    if (message.role === 'user') messages.push(...userMessages(message.content, where));
    else if (message.role === 'assistant') messages.push(assistantMessage(message.content, where));
    else refuse(`${where}.role`, `${where}.role must be user or assistant.`);
  });
  const out: Json = { model, messages };
  if (typeof body.max_tokens === 'number') out[options.maxTokensField] = body.max_tokens;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences) && body.stop_sequences.length) out.stop = body.stop_sequences.map(String);
  if (isObject(body.metadata) && typeof body.metadata.user_id === 'string') out.user = body.metadata.user_id;
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true }; // Anthropic's stream always reports usage
  }
  if (body.tools !== undefined) {
    const tools = convertTools(body.tools);
    if (tools.length) out.tools = tools;
  }
  if (body.output_format !== undefined) out.response_format = convertOutputFormat(body.output_format);
  if (isObject(body.tool_choice)) {
    out.tool_choice = convertToolChoice(body.tool_choice);
    if (body.tool_choice.disable_parallel_tool_use === true && out.tools) out.parallel_tool_calls = false;
  }
  return { body: out, facts: { model } };
}
