/**
 * MCP tools in the caller's wire format: the `tools` a request offers, the calls an
 * answer makes, and the turns that carry a round's calls and results back to the model.
 * OpenAI chat: `{ type: 'function', function: { name, description, parameters } }`,
 * `tool_calls` and `role: tool` messages; Anthropic messages: `{ name, description,
 * input_schema }`, `tool_use` blocks and a user turn of `tool_result` blocks.
 */
import type { ApiFormat } from '../formats/format.js';
import type { Json } from '../formats/conversation.js';
import type { Usage } from '../upstream/usage.js';

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** One tool call the model made. `args` is the raw JSON text (OpenAI) or the parsed input (Anthropic). */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly args: string | Json;
}

/** One tool's result, as text for the model. */
export interface ToolResult {
  readonly id: string;
  readonly text: string;
  readonly isError: boolean;
}

/** A tool as offered to the model: the name it sees, its description and input schema. */
export interface OfferedTool {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Json;
}

export function toolDefinition(format: ApiFormat, tool: OfferedTool): Json {
  if (format === 'openai') return { type: 'function', function: { name: tool.name, description: tool.description, parameters: tool.inputSchema } };
  return { name: tool.name, description: tool.description, input_schema: tool.inputSchema };
}

/** The names of the tools the caller sent itself (its calls go back to it). */
export function callerToolNames(format: ApiFormat, body: Json): Set<string> {
  const names = new Set<string>();
  if (Array.isArray(body.tools)) {
    for (const tool of body.tools as unknown[]) {
      if (!isObject(tool)) continue;
      const name = format === 'openai' ? (isObject(tool.function) ? tool.function.name : undefined) : tool.name;
      if (typeof name === 'string') names.add(name);
    }
  }
  return names;
}

/** The first choice's message of an OpenAI answer, or null. */
function openaiMessage(answer: Json): Json | null {
  const choice = Array.isArray(answer.choices) ? answer.choices[0] : undefined;
  return isObject(choice) && isObject(choice.message) ? choice.message : null;
}

/** The tool calls of a non-streamed answer. */
export function answerCalls(format: ApiFormat, answer: Json): ToolCall[] {
  const calls: ToolCall[] = [];
  if (format === 'openai') {
    const message = openaiMessage(answer);
    const list = message && Array.isArray(message.tool_calls) ? (message.tool_calls as unknown[]) : [];
    for (const c of list) {
      if (!isObject(c) || !isObject(c.function) || typeof c.function.name !== 'string') continue;
      calls.push({ id: String(c.id ?? ''), name: c.function.name, args: typeof c.function.arguments === 'string' ? c.function.arguments : '{}' });
    }
    return calls;
  }
  if (!Array.isArray(answer.content)) return calls;
  for (const b of answer.content as unknown[]) {
    if (isObject(b) && b.type === 'tool_use' && typeof b.name === 'string') calls.push({ id: String(b.id ?? ''), name: b.name, args: isObject(b.input) ? b.input : {} });
  }
  return calls;
}

/** The assistant turn a non-streamed answer makes, as a request message (only the fields a request takes). */
export function answerTurn(format: ApiFormat, answer: Json): Json {
  if (format === 'openai') {
    const message = openaiMessage(answer) ?? {};
    return { role: 'assistant', content: message.content ?? null, tool_calls: message.tool_calls ?? [] };
  }
  return { role: 'assistant', content: Array.isArray(answer.content) ? answer.content : [] };
}

/** The assistant turn of a streamed round, from what was gathered. */
export function streamedTurn(format: ApiFormat, text: string, calls: readonly ToolCall[], blocks: readonly Json[]): Json {
  if (format === 'openai') {
    return {
      role: 'assistant',
      content: text.length ? text : null,
      tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: typeof c.args === 'string' ? c.args : JSON.stringify(c.args) } })),
    };
  }
  return { role: 'assistant', content: blocks };
}

/** Appends a round to the request: the assistant turn that called the tools, then their results. */
export function appendRound(format: ApiFormat, body: Json, turn: Json, results: readonly ToolResult[]): void {
  const messages = Array.isArray(body.messages) ? [...(body.messages as unknown[])] : [];
  messages.push(turn);
  if (format === 'openai') {
    for (const r of results) messages.push({ role: 'tool', tool_call_id: r.id, content: r.isError ? `Error: ${r.text}` : r.text });
  } else {
    messages.push({ role: 'user', content: results.map((r) => ({ type: 'tool_result', tool_use_id: r.id, content: r.text, ...(r.isError && { is_error: true }) })) });
  }
  body.messages = messages;
}

/** A finish reason that says "tool calls follow", once none are left for the caller, becomes a plain stop. */
export function plainStop(format: ApiFormat, reason: unknown): unknown {
  if (format === 'openai') return reason === 'tool_calls' ? 'stop' : reason;
  return reason === 'tool_use' ? 'end_turn' : reason;
}

/** Removes the calls to `drop` (MCP tools) from a non-streamed answer, in place; the caller never sees them. */
export function stripCalls(format: ApiFormat, answer: Json, drop: ReadonlySet<string>): void {
  if (format === 'openai') {
    const choice = Array.isArray(answer.choices) && isObject(answer.choices[0]) ? answer.choices[0] : null;
    const message = choice ? openaiMessage(answer) : null;
    if (!choice || !message || !Array.isArray(message.tool_calls)) return;
    const kept = (message.tool_calls as unknown[]).filter((c) => !(isObject(c) && isObject(c.function) && drop.has(String(c.function.name))));
    if (kept.length) message.tool_calls = kept;
    else {
      delete message.tool_calls;
      choice.finish_reason = plainStop(format, choice.finish_reason);
    }
    return;
  }
  if (!Array.isArray(answer.content)) return;
  answer.content = (answer.content as unknown[]).filter((b) => !(isObject(b) && b.type === 'tool_use' && drop.has(String(b.name))));
  if (!(answer.content as Json[]).some((b) => b.type === 'tool_use')) answer.stop_reason = plainStop(format, answer.stop_reason);
}

/** Usage of several rounds added up (counts a round did not report are left out). */
export function addUsage(total: Usage, round: Usage): Usage {
  return {
    prompt: total.prompt + Math.max(0, round.prompt),
    completion: total.completion + Math.max(0, round.completion),
    cached: total.cached + round.cached,
    cacheWrite: total.cacheWrite + round.cacheWrite,
  };
}

export const NO_USAGE: Usage = Object.freeze({ prompt: 0, completion: 0, cached: 0, cacheWrite: 0 });

/** Writes the usage of every round into an answer's `usage` object (OpenAI or Anthropic names), in place. */
export function writeUsage(format: ApiFormat, usage: Json, total: Usage): void {
  if (format === 'openai') {
    usage.prompt_tokens = total.prompt;
    usage.completion_tokens = total.completion;
    usage.total_tokens = total.prompt + total.completion;
    if (isObject(usage.prompt_tokens_details)) usage.prompt_tokens_details.cached_tokens = total.cached;
    return;
  }
  usage.input_tokens = Math.max(0, total.prompt - total.cached - total.cacheWrite);
  usage.output_tokens = total.completion;
  if (total.cached > 0 || 'cache_read_input_tokens' in usage) usage.cache_read_input_tokens = total.cached;
  if (total.cacheWrite > 0 || 'cache_creation_input_tokens' in usage) usage.cache_creation_input_tokens = total.cacheWrite;
}
