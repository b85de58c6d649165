import { Readable } from 'node:stream';
import type { UpstreamResponse } from './provider.js';

/** What the mock answers: an upstream response less its timing. */
export type MockAnswer = Omit<UpstreamResponse, 'headersMs'>;

export type Json = Record<string, unknown>;

export function reply(status: number, body: unknown, contentType = 'application/json'): MockAnswer {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return {
    status,
    headers: { 'content-type': contentType, 'content-length': String(bytes.length) },
    body: Readable.from([bytes]),
  };
}

export function notFound(message: string): MockAnswer {
  return reply(404, { error: { message, type: 'invalid_request_error', param: null, code: 'not_found' } });
}

export function words(text: string): number {
  const n = text.trim().split(/\s+/).filter(Boolean).length;
  return Math.max(1, n);
}

export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (typeof p === 'object' && p && typeof (p as Json).text === 'string' ? (p as Json).text : '')).join(' ');
  }
  return '';
}

export function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] as Json | null;
    if (m && m.role === 'user') return textOf(m.content);
  }
  return '';
}

export function promptTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 1;
  return messages.reduce((n: number, m) => n + words(textOf((m as Json | null)?.content)), 0);
}

export function sse(events: unknown[]): MockAnswer {
  const chunks = events.map((e) => Buffer.from(`data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`));
  return {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    body: Readable.from(chunks),
  };
}

