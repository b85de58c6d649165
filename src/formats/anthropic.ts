import type { GatewayError } from '../errors.js';
import type { WireFormat } from './format.js';
import { anthropicAnswerText, anthropicEventText, anthropicRequestText } from './anthropic-text.js';

/**
 * Anthropic's error types by HTTP status (its API reference, "Errors"). Other 4xx are
 * `invalid_request_error`, other 5xx `api_error`.
 */
const TYPES: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** One event of Anthropic's stream grammar: `event:` names it, and its data repeats the name as `type`. */
export function anthropicEvent(name: string, data: Record<string, unknown>): string {
  return `event: ${name}\ndata: ${JSON.stringify({ type: name, ...data })}\n\n`;
}

/** Anthropic says "overloaded" with 529 where others say 503. */
function statusFor(status: number): number {
  return status === 503 ? 529 : status;
}

export function anthropicErrorType(status: number): string {
  return TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

function body(error: GatewayError, status: number, requestId: string): string {
  return JSON.stringify({ type: 'error', error: { type: anthropicErrorType(status), message: error.message }, request_id: requestId });
}

/** Anthropic's Messages API: `{"type":"error","error":{"type","message"}}`, 529 for overloaded. */
export const ANTHROPIC_FORMAT: WireFormat = Object.freeze<WireFormat>({
  name: 'anthropic',
  jsonEndpoints: new Set(['/v1/messages', '/v1/messages/count_tokens']),
  renderError(error: GatewayError, requestId: string) {
    const status = statusFor(error.status);
    return { status, body: Buffer.from(body(error, status, requestId)) };
  },
  errorEvent(error: GatewayError, requestId: string) {
    return Buffer.from(`event: error\ndata: ${body(error, statusFor(error.status), requestId)}\n\n`);
  },
  requestText: anthropicRequestText,
  answerText: anthropicAnswerText,
  eventText: anthropicEventText,
  addSystemText(body, text) {
    if (!Array.isArray(body.messages)) return false;
    const system = body.system;
    if (Array.isArray(system)) system.unshift({ type: 'text', text });
    else body.system = typeof system === 'string' && system ? `${text}\n\n${system}` : text;
    return true;
  },
});
