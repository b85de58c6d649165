import { deltaAt, isObj, NO_EVENT_TEXT, partAt, roleOf, type DeltaPart, type EventText, type Obj, type TextPart, type TextRole } from './text.js';

/** A Messages API `content`: a string, or blocks (`text`, and `tool_result` whose content nests). */
function blocks(out: TextPart[], role: TextRole, holder: Obj, key: string): void {
  const content = holder[key];
  if (typeof content === 'string') return partAt(out, role, holder, key);
  if (!Array.isArray(content)) return;
  for (const block of content) {
    if (!isObj(block)) continue;
    if (block.type === 'text') partAt(out, role, block, 'text');
    else if (block.type === 'tool_result') blocks(out, 'tool', block, 'content');
  }
}

/** The text of an Anthropic Messages request: `system` (a string or text blocks) and every message's content. */
export function anthropicRequestText(body: Obj): TextPart[] {
  const out: TextPart[] = [];
  blocks(out, 'system', body, 'system');
  if (Array.isArray(body.messages)) {
    for (const message of body.messages) if (isObj(message)) blocks(out, roleOf(message.role), message, 'content');
  }
  return out;
}

/** The text blocks of an Anthropic JSON answer (`content[]`). */
export function anthropicAnswerText(body: unknown): TextPart[] {
  const out: TextPart[] = [];
  if (isObj(body) && body.type === 'message') blocks(out, 'assistant', body, 'content');
  return out;
}

/** The text of one Anthropic stream event: `content_block_delta` with a `text_delta` (per block index), a block's start text. */
export function anthropicEventText(value: unknown): EventText {
  if (!isObj(value)) return NO_EVENT_TEXT;
  if (value.type === 'content_block_delta' && isObj(value.delta) && value.delta.type === 'text_delta') {
    const deltas: DeltaPart[] = [];
    deltaAt(deltas, `b${String(value.index)}`, value.delta, 'text');
    return { deltas, whole: [] };
  }
  if (value.type === 'content_block_start' && isObj(value.content_block) && value.content_block.type === 'text') {
    const whole: TextPart[] = [];
    partAt(whole, 'assistant', value.content_block, 'text');
    return { deltas: [], whole };
  }
  if (value.type === 'message_start' && isObj(value.message)) {
    return { deltas: [], whole: anthropicAnswerText(value.message) };
  }
  return NO_EVENT_TEXT;
}
