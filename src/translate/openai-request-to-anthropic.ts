/**
 * A chat completion request (OpenAI) as an Anthropic Messages request. Every field either
 * has an Anthropic equivalent, is dropped because it only tunes sampling the other API
 * does not offer (listed in the README), or is refused with a 400 that names it.
 */
import { modelInfo } from '../tokens/index.js';
import { isObject, parseArguments, type Json } from './json.js';
import { refuse } from './refuse.js';

/** `max_tokens` when the caller sets none and the model table does not know the model. */
export const DEFAULT_MAX_TOKENS = 4096;
/** OpenAI's temperature goes to 2, Anthropic's to 1. */
const MAX_TEMPERATURE = 1;
const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

/** What the answer's translation needs to remember about the request. */
export interface ChatRequestFacts {
  /** The client asked for the usage chunk of a stream. */
  readonly includeUsage: boolean;
  /** `response_format` was turned into this forced tool: its input is the answer's text. */
  readonly jsonTool: string | null;
}

export interface TranslatedRequest<F> {
  readonly body: Json;
  readonly facts: F;
}

function textParts(content: unknown, where: string): Json[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  if (!Array.isArray(content)) return [];
  return content.map((part, i) => {
    if (!isObject(part)) refuse(`${where}[${i}]`, `${where}[${i}] must be an object.`);
    if (part.type === 'text') return withCacheMark(part, { type: 'text', text: String(part.text ?? '') });
    if (part.type === 'image_url') return withCacheMark(part, imageBlock(part, `${where}[${i}]`));
    return refuse(`${where}[${i}].type`, `Content parts of type "${String(part.type)}" cannot be sent to an Anthropic upstream (text and image_url can).`);
  });
}

function imageBlock(part: Json, where: string): Json {
  const url = isObject(part.image_url) ? part.image_url.url : part.image_url;
  if (typeof url !== 'string') refuse(`${where}.image_url.url`, `${where}.image_url.url must be a string.`);
  const data = DATA_URL.exec(url);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data[1], data: data[2] } };
  if (url.startsWith('https://') || url.startsWith('http://')) return { type: 'image', source: { type: 'url', url } };
  return refuse(`${where}.image_url.url`, `${where}.image_url.url must be an http(s) URL or a base64 data URL.`);
}

/**
 * A prompt-caching breakpoint (`cache_control`, set by the caller or by `prompt_caching`)
 * goes with the part it marks: Anthropic reads it on the block.
 */
function withCacheMark(part: Json, block: Json): Json {
  return isObject(part.cache_control) ? { ...block, cache_control: part.cache_control } : block;
}

function systemBlocks(content: unknown, where: string): Json[] {
  if (typeof content === 'string') return content === '' ? [] : [{ type: 'text', text: content }];
  return textParts(content, where).map((b) => (b.type === 'text' ? b : refuse(where, 'System and developer messages carry text only.')));
}

function toolResultContent(content: unknown, where: string): string | Json[] {
  if (typeof content === 'string') return content;
  return textParts(content, where);
}

function assistantBlocks(message: Json, where: string): Json[] {
  const blocks = textParts(message.content, `${where}.content`);
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((call: unknown, i: number) => {
      if (!isObject(call) || !isObject(call.function)) refuse(`${where}.tool_calls[${i}]`, `${where}.tool_calls[${i}] must be a function call.`);
      blocks.push({ type: 'tool_use', id: String(call.id ?? `call_${i}`), name: String(call.function.name ?? ''), input: parseArguments(call.function.arguments) });
    });
  }
  if (message.function_call !== undefined) refuse(`${where}.function_call`, 'The legacy `function_call` is not translated; use `tool_calls`.');
  return blocks;
}

/** Appends a turn, merging it into the previous one when the role repeats (Anthropic alternates roles). */
function push(messages: Json[], role: 'user' | 'assistant', blocks: Json[]): void {
  if (blocks.length === 0) return;
  const last = messages[messages.length - 1];
  if (last && last.role === role) last.content.push(...blocks);
  else messages.push({ role, content: blocks });
}

function convertMessages(input: unknown): { system: Json[][]; messages: Json[] } {
  if (!Array.isArray(input) || input.length === 0) refuse('messages', '`messages` must be a non-empty array.');
  const system: Json[][] = [];
  const messages: Json[] = [];
  input.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isObject(message)) refuse(where, `${where} must be an object.`);
    switch (message.role) {
      case 'system':
      case 'developer':
        // Anthropic has one system prompt, before the turns: every system message goes there.
        system.push(systemBlocks(message.content, `${where}.content`));
        return;
      case 'user':
        push(messages, 'user', textParts(message.content, `${where}.content`));
        return;
      case 'assistant':
        push(messages, 'assistant', assistantBlocks(message, where));
        return;
      case 'tool':
        push(messages, 'user', [{ type: 'tool_result', tool_use_id: String(message.tool_call_id ?? ''), content: toolResultContent(message.content, `${where}.content`) }]);
        return;
      default:
        refuse(`${where}.role`, `Messages with role "${String(message.role)}" cannot be sent to an Anthropic upstream.`);
    }
  });
  if (messages.length === 0) refuse('messages', 'An Anthropic upstream needs at least one user or assistant message besides the system prompt.');
  return { system, messages };
}

function convertTools(tools: unknown): Json[] {
  if (!Array.isArray(tools)) refuse('tools', '`tools` must be an array.');
  return tools.map((tool, i) => {
    if (!isObject(tool) || tool.type !== 'function' || !isObject(tool.function)) {
      refuse(`tools[${i}]`, 'Only `function` tools can be sent to an Anthropic upstream.');
    }
    const fn = tool.function;
    const out: Json = withCacheMark(tool, { name: String(fn.name ?? ''), input_schema: isObject(fn.parameters) ? fn.parameters : { type: 'object', properties: {} } });
    if (typeof fn.description === 'string') out.description = fn.description;
    return out;
  });
}

function convertToolChoice(choice: unknown): Json {
  if (choice === 'auto' || choice === undefined) return { type: 'auto' };
  if (choice === 'none') return { type: 'none' };
  if (choice === 'required') return { type: 'any' };
  if (isObject(choice) && choice.type === 'function' && isObject(choice.function)) return { type: 'tool', name: String(choice.function.name ?? '') };
  return refuse('tool_choice', '`tool_choice` must be auto, none, required or a named function.');
}

/** `response_format` as a forced tool whose input is the JSON answer (works with every Claude model). */
function jsonTool(format: Json): { name: string; tool: Json } | null {
  if (format.type === 'text') return null;
  if (format.type === 'json_object') return { name: 'json_answer', tool: { name: 'json_answer', description: 'Answer with a JSON object.', input_schema: { type: 'object' } } };
  if (format.type !== 'json_schema' || !isObject(format.json_schema)) return refuse('response_format', '`response_format` must be text, json_object or json_schema.');
  const spec = format.json_schema;
  const name = typeof spec.name === 'string' && spec.name ? spec.name : 'json_answer';
  const tool: Json = { name, input_schema: isObject(spec.schema) ? spec.schema : { type: 'object' } };
  tool.description = typeof spec.description === 'string' ? spec.description : 'Answer with JSON matching this schema.';
  return { name, tool };
}

export function openaiRequestToAnthropic(body: Json): TranslatedRequest<ChatRequestFacts> {
  if (typeof body.n === 'number' && body.n !== 1) refuse('n', '`n` other than 1 cannot be sent to an Anthropic upstream: it returns one answer per request.');
  for (const field of ['logprobs', 'top_logprobs', 'audio', 'prediction'] as const) {
    if (body[field] !== undefined && body[field] !== null && body[field] !== false) {
      refuse(field, `\`${field}\` has no equivalent in Anthropic's Messages API.`);
    }
  }
  if (Array.isArray(body.modalities) && body.modalities.some((m: unknown) => m !== 'text')) refuse('modalities', 'An Anthropic upstream answers in text only.');
  if (body.functions !== undefined) refuse('functions', 'The legacy `functions` are not translated; use `tools`.');

  const model = typeof body.model === 'string' ? body.model : '';
  const { system, messages } = convertMessages(body.messages);
  const out: Json = { model, messages };
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  out.max_tokens = typeof maxTokens === 'number' && maxTokens > 0 ? maxTokens : modelInfo(model).maxOutput || DEFAULT_MAX_TOKENS;
  if (system.length) {
    const blocks = system.flat();
    // Plain text as one string; blocks when one carries a cache breakpoint (only blocks can).
    out.system = blocks.some((b) => b.cache_control !== undefined) ? blocks : system.map((parts) => parts.map((b) => b.text).join('\n')).join('\n\n');
  }
  if (typeof body.temperature === 'number') out.temperature = Math.min(MAX_TEMPERATURE, Math.max(0, body.temperature));
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (typeof body.stop === 'string') out.stop_sequences = [body.stop];
  else if (Array.isArray(body.stop) && body.stop.length) out.stop_sequences = body.stop.map(String);
  if (body.stream === true) out.stream = true;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };

  const tools = body.tools === undefined || body.tools === null ? [] : convertTools(body.tools);
  let forced: string | null = null;
  if (isObject(body.response_format)) {
    const json = jsonTool(body.response_format);
    if (json) {
      if (tools.length) refuse('response_format', '`response_format` together with `tools` cannot be sent to an Anthropic upstream.');
      tools.push(json.tool);
      forced = json.name;
      out.tool_choice = { type: 'tool', name: json.name };
    }
  }
  if (tools.length) out.tools = tools;
  if (!forced && tools.length && (body.tool_choice !== undefined || body.parallel_tool_calls === false)) {
    out.tool_choice = convertToolChoice(body.tool_choice);
    if (body.parallel_tool_calls === false && out.tool_choice.type !== 'none') out.tool_choice.disable_parallel_tool_use = true;
  }
  const options = body.stream_options;
  return { body: out, facts: { includeUsage: isObject(options) && options.include_usage === true, jsonTool: forced } };
}
