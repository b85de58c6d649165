import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Json } from '../formats/conversation.js';
import type { Catalog } from './catalog.js';
import type { ToolCall, ToolResult } from './tool-turns.js';

/** How long one tool call may take. */
export const TOOL_CALL_TIMEOUT_MS = 30_000;
/** The most characters of one tool result the model gets (the rest is cut, and it is told). */
export const MAX_RESULT_CHARS = 64 * 1024;
/** The most tool calls run per round; further ones get an error result. */
export const MAX_CALLS_PER_ROUND = 16;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A tool result as text for the model: text parts joined, other parts named, structured content as JSON when there is no text. */
export function resultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const c of result.content ?? []) {
    if (c.type === 'text') parts.push(c.text);
    else if (c.type === 'resource') parts.push('text' in c.resource && typeof c.resource.text === 'string' ? c.resource.text : `[resource ${c.resource.uri}]`);
    else if (c.type === 'resource_link') parts.push(`[resource ${c.uri}]`);
    else parts.push(`[${c.type} ${'mimeType' in c ? String(c.mimeType) : ''} omitted]`);
  }
  if (parts.length === 0 && result.structuredContent !== undefined) parts.push(JSON.stringify(result.structuredContent));
  const text = parts.join('\n');
  return text.length > MAX_RESULT_CHARS ? `${text.slice(0, MAX_RESULT_CHARS)}\n[result cut at ${MAX_RESULT_CHARS} characters]` : text;
}

function argumentsOf(call: ToolCall): Json {
  if (typeof call.args !== 'string') return call.args;
  if (call.args.trim() === '') return {};
  const value = JSON.parse(call.args) as unknown;
  if (!isObject(value)) throw new Error('the arguments are not a JSON object');
  return value;
}

async function runOne(catalog: Catalog, call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
  const entry = catalog.byName.get(call.name);
  try {
    if (!entry) throw new Error(`no tool "${call.name}"`);
    let args: Json;
    try {
      args = argumentsOf(call);
    } catch (err) {
      throw new Error(`invalid arguments: ${(err as Error).message}`);
    }
    const result = await entry.connection.call(entry.tool.name, args, TOOL_CALL_TIMEOUT_MS, signal);
    return { id: call.id, text: resultText(result), isError: result.isError === true };
  } catch (err) {
    return { id: call.id, text: `the tool call failed: ${(err as Error).message}`, isError: true };
  }
}

/**
 * Runs one round's MCP tool calls at once, each bounded in time and result size. A call
 * that fails (server down, timeout, bad arguments) becomes an error result the model reads,
 * not a failed request.
 */
export function runTools(catalog: Catalog, calls: readonly ToolCall[], signal: AbortSignal): Promise<ToolResult[]> {
  return Promise.all(
    calls.map((call, i) =>
      i < MAX_CALLS_PER_ROUND ? runOne(catalog, call, signal) : Promise.resolve({ id: call.id, text: `not run: at most ${MAX_CALLS_PER_ROUND} tool calls per turn`, isError: true }),
    ),
  );
}
