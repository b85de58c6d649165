import { deltaAt, isObj, NO_EVENT_TEXT, partAt, roleOf, type DeltaPart, type EventText, type Obj, type TextPart, type TextRole } from './text.js';

/** `content` of a chat message or a Responses input item: a string, or parts with `text`. */
function contentParts(out: TextPart[], role: TextRole, holder: Obj, key: string): void {
  const content = holder[key];
  if (typeof content === 'string') return partAt(out, role, holder, key);
  if (!Array.isArray(content)) return;
  for (const part of content) {
    if (isObj(part) && typeof part.text === 'string') partAt(out, role, part, 'text');
  }
}

/** A string or a list of strings at `holder[key]` (completions `prompt`, embeddings `input`). */
function stringOrList(out: TextPart[], role: TextRole, holder: Obj, key: string): void {
  const value = holder[key];
  if (typeof value === 'string') return partAt(out, role, holder, key);
  if (Array.isArray(value)) value.forEach((_, i) => partAt(out, role, value, i));
}

/**
 * The text of an OpenAI request: chat `messages` (string or text parts), Responses
 * `instructions` and `input` (a string or items with content), completions `prompt`,
 * embeddings and moderations `input`.
 */
export function openaiRequestText(body: Obj): TextPart[] {
  const out: TextPart[] = [];
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) if (isObj(message)) contentParts(out, roleOf(message.role), message, 'content');
  }
  partAt(out, 'system', body, 'instructions');
  const input = body.input;
  if (typeof input === 'string') partAt(out, 'user', body, 'input');
  else if (Array.isArray(input)) {
    input.forEach((item, i) => {
      if (typeof item === 'string') partAt(out, 'user', input, i);
      else if (isObj(item)) {
        if (item.type === 'function_call_output') partAt(out, 'tool', item, 'output');
        else contentParts(out, roleOf(item.role), item, 'content');
      }
    });
  }
  stringOrList(out, 'user', body, 'prompt');
  return out;
}

/** Responses API output items: messages with `output_text` parts. */
function outputItems(out: TextPart[], output: unknown): void {
  if (!Array.isArray(output)) return;
  for (const item of output) if (isObj(item) && Array.isArray(item.content)) contentParts(out, 'assistant', item, 'content');
}

/** The text of an OpenAI JSON answer: chat `choices[].message.content`, completions `choices[].text`, Responses `output`. */
export function openaiAnswerText(body: unknown): TextPart[] {
  const out: TextPart[] = [];
  if (!isObj(body)) return out;
  if (Array.isArray(body.choices)) {
    for (const choice of body.choices) {
      if (!isObj(choice)) continue;
      if (isObj(choice.message)) {
        partAt(out, 'assistant', choice.message, 'content');
        partAt(out, 'assistant', choice.message, 'refusal');
      }
      partAt(out, 'assistant', choice, 'text');
    }
  }
  outputItems(out, body.output);
  return out;
}

/**
 * The text of one OpenAI stream event: chat `choices[].delta.content`, completions
 * `choices[].text`, the Responses API's `response.output_text.delta` (a delta) and the
 * events that repeat finished text (`…output_text.done`, `…content_part.*`,
 * `…output_item.*`, `response.completed`).
 */
export function openaiEventText(value: unknown): EventText {
  if (!isObj(value)) return NO_EVENT_TEXT;
  if (Array.isArray(value.choices)) {
    const deltas: DeltaPart[] = [];
    value.choices.forEach((choice, i) => {
      if (!isObj(choice)) return;
      const channel = `c${typeof choice.index === 'number' ? choice.index : i}`;
      if (isObj(choice.delta)) {
        deltaAt(deltas, channel, choice.delta, 'content');
        deltaAt(deltas, `${channel}r`, choice.delta, 'refusal');
      }
      deltaAt(deltas, channel, choice, 'text');
    });
    return deltas.length ? { deltas, whole: [] } : NO_EVENT_TEXT;
  }
  const type = value.type;
  if (typeof type !== 'string' || !type.startsWith('response.')) return NO_EVENT_TEXT;
  if (type === 'response.output_text.delta' || type === 'response.refusal.delta') {
    const deltas: DeltaPart[] = [];
    deltaAt(deltas, `${String(value.item_id)}:${String(value.content_index)}`, value, 'delta');
    return { deltas, whole: [] };
  }
  const whole: TextPart[] = [];
  if (type === 'response.output_text.done') partAt(whole, 'assistant', value, 'text');
  else if (type === 'response.refusal.done') partAt(whole, 'assistant', value, 'refusal');
  else if (isObj(value.part)) {
    partAt(whole, 'assistant', value.part, 'text');
    partAt(whole, 'assistant', value.part, 'refusal');
  } else if (isObj(value.item) && Array.isArray(value.item.content)) contentParts(whole, 'assistant', value.item, 'content');
  else if (isObj(value.response)) outputItems(whole, value.response.output);
  return whole.length ? { deltas: [], whole } : NO_EVENT_TEXT;
}
