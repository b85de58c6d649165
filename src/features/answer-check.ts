/**
 * What the answer checks (structured_output, quality_gate) share: reading a try's answer
 * whole before the client sees any of it, so a failed answer can be tried again, and
 * checking a stream as it passes when it is not held back (`buffer: false`).
 */
import { GatewayError } from '../errors.js';
import { answerOfBody, messagesOf, StreamAnswer, type AnswerText } from '../formats/conversation.js';
import type { ApiFormat } from '../formats/format.js';
import type { RequestContext } from '../pipeline/context.js';
import type { SseEvent } from '../pipeline/stage.js';
import type { UpstreamResponse } from '../providers/provider.js';
import { headerValue } from '../upstream/headers.js';
import { parseEvents } from '../upstream/sse.js';
import { HeldBody, keepParsed } from '../upstream/held-body.js';
import { readAnswerWhole } from '../upstream/read-whole.js';

/** The largest answer a check reads whole (a bigger one fails the try rather than fill memory). */
export const MAX_CHECKED_ANSWER_BYTES = 8 * 1024 * 1024;

/** Only chat requests' answers are checked: every other endpoint (files, audio, models) streams through untouched. */
export function isChatRequest(ctx: RequestContext): boolean {
  return messagesOf(ctx.body) !== null;
}

/** A try's answer, read whole: the response to pass on (replaying the same bytes) and what it says. */
export interface HeldAnswer {
  readonly response: UpstreamResponse;
  /** Null when the answer is not a successful chat answer (a 4xx/5xx, another endpoint): it is not checked. */
  readonly answer: AnswerText | null;
}

function isStream(response: UpstreamResponse): boolean {
  return (headerValue(response.headers['content-type']) ?? '').startsWith('text/event-stream');
}

/** Reads a whole answer, bounded by MAX_CHECKED_ANSWER_BYTES (a bigger one is an upstream_error). */
export function readAll(response: UpstreamResponse, upstream: string): Promise<Buffer> {
  return readAnswerWhole(
    response.body,
    MAX_CHECKED_ANSWER_BYTES,
    () => new GatewayError('upstream_error', `the answer of upstream "${upstream}" is larger than ${MAX_CHECKED_ANSWER_BYTES} bytes, too large to check`),
  );
}

/** What a whole answer says, from its bytes (a JSON body or a complete SSE stream). */
function answerOf(format: ApiFormat, bytes: Buffer, stream: boolean): AnswerText | null {
  const known = ANSWERS.get(bytes);
  if (known !== undefined && known.format === format) return known.answer;
  const answer = readAnswer(format, bytes, stream);
  ANSWERS.set(bytes, { format, answer });
  return answer;
}

/**
 * What held answers say, by their bytes: when two checks hold the same answer (both
 * structured_output and quality_gate), the second reads what the first parsed.
 */
const ANSWERS = new WeakMap<Buffer, { format: ApiFormat; answer: AnswerText | null }>();

function readAnswer(format: ApiFormat, bytes: Buffer, stream: boolean): AnswerText | null {
  if (stream) {
    const answer = new StreamAnswer(format);
    for (const event of parseEvents(bytes)) answer.push(event);
    return answer;
  }
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    return null;
  }
  keepParsed(bytes, value);
  return answerOfBody(format, value);
}

/**
 * Reads a successful answer whole and gives back a response that replays its bytes (its
 * headers, content-length included, still hold). Anything else passes untouched.
 */
export async function holdAnswer(ctx: RequestContext, response: UpstreamResponse): Promise<HeldAnswer> {
  if (response.status < 200 || response.status >= 300) return { response, answer: null };
  const stream = isStream(response);
  const upstream = response.target?.upstream.name ?? 'upstream';
  const bytes = await readAll(response, upstream);
  const replay: UpstreamResponse = { ...response, body: response.body instanceof HeldBody && !response.body.readableDidRead ? response.body : new HeldBody(bytes) };
  return { response: replay, answer: answerOf(ctx.format.name, bytes, stream) };
}

/** The SSE event that tells a stream's client its answer failed a check (in the caller's format). */
export function failureEvent(ctx: RequestContext, error: GatewayError): SseEvent {
  return parseEvents(ctx.format.errorEvent(error, ctx.id))[0]!;
}

/**
 * For a stream that is not held back: gathers its answer event by event; at the event that
 * ends the answer, `onEnd` decides what is sent instead of it (nothing: the event itself).
 */
export function watchStream(
  ctx: RequestContext,
  answer: StreamAnswer,
  event: SseEvent,
  onEnd: (answer: StreamAnswer) => SseEvent[] | undefined,
): SseEvent[] | undefined {
  if (answer.size > MAX_CHECKED_ANSWER_BYTES) return undefined;
  if (!answer.push(event)) return undefined;
  return onEnd(answer);
}
