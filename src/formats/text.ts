/**
 * Text access for one wire format: where the words are in a request, a JSON answer and a
 * stream event, each with a setter, so guardrails and request shaping read and edit text
 * the same way whatever API the caller speaks. Reading never throws on an unexpected
 * shape: what is not text is simply not listed.
 */

/** Who wrote a piece of text, as the model sees it. */
export type TextRole = 'system' | 'user' | 'assistant' | 'tool';

/** One piece of text inside a parsed body, and how to replace it in place. */
export interface TextPart {
  readonly role: TextRole;
  readonly text: string;
  set(text: string): void;
}

/**
 * One piece of a growing text in a stream event (an OpenAI `delta.content`, an Anthropic
 * `text_delta`). `channel` tells texts apart that grow side by side (choices, content
 * blocks): deltas of one channel join into one answer text.
 */
export interface DeltaPart extends TextPart {
  readonly channel: string;
}

/** The text of one parsed stream event. */
export interface EventText {
  /** Pieces of growing texts. */
  readonly deltas: readonly DeltaPart[];
  /** Whole texts an event repeats (a Responses API `…done` or `response.completed` event). */
  readonly whole: readonly TextPart[];
}

export const NO_EVENT_TEXT: EventText = Object.freeze({ deltas: Object.freeze([]), whole: Object.freeze([]) });

export type Obj = Record<string, unknown>;

export const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The string at `holder[key]` as a TextPart, or nothing. */
export function partAt(out: TextPart[], role: TextRole, holder: Obj | unknown[], key: string | number): void {
  const text = (holder as Record<string | number, unknown>)[key];
  if (typeof text !== 'string') return;
  out.push({
    role,
    text,
    set(next: string) {
      (holder as Record<string | number, unknown>)[key] = next;
    },
  });
}

export function deltaAt(out: DeltaPart[], channel: string, holder: Obj, key: string): void {
  const text = holder[key];
  if (typeof text !== 'string') return;
  out.push({
    role: 'assistant',
    channel,
    text,
    set(next: string) {
      holder[key] = next;
    },
  });
}

/** A message's role as a TextRole (`developer` is a system role; unknown roles read as user text). */
export function roleOf(value: unknown): TextRole {
  switch (value) {
    case 'system':
    case 'developer':
      return 'system';
    case 'assistant':
      return 'assistant';
    case 'tool':
    case 'function':
      return 'tool';
    default:
      return 'user';
  }
}
