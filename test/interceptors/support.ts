import { Writable } from 'node:stream';
import pino from 'pino';
import type { Stage } from '../../src/index.js';
import { MockUpstream } from '../support/mock-upstream.js';
import { startGateway, type Running } from '../support/gateway.js';

/** The access lines a gateway logged, awaited by count (no sleeps). */
export class AccessLog {
  readonly lines: any[] = [];
  private wake: (() => void) | null = null;
  readonly sink = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const value = JSON.parse(line);
        if (value.msg === 'request') this.lines.push(value);
      }
      this.wake?.();
      done();
    },
  });

  /** Resolves with the access line of request `id` once it was written. */
  async of(id: string): Promise<any> {
    for (;;) {
      const line = this.lines.find((l) => l.request_id === id);
      if (line) return line;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}

export interface Setup {
  upstream: MockUpstream;
  gw: Running;
  log: AccessLog;
  /** The config the gateway started with. */
  yaml: string;
  close(): Promise<void>;
}

/**
 * A gateway whose routers have `interceptors` (YAML list items, indented under the key, as
 * `defaults.interceptors`), against a fresh mock upstream: router `main` (the default)
 * sends to it as OpenAI (`up`), router `anthropic` (model `claude-haiku-4-5`) as Anthropic
 * (`claude`), so each caller's format reaches it untranslated. `top` is spliced in after
 * the upstreams (more upstreams, indented, or top-level keys); `routers` after the two.
 */
export async function setup(interceptors: string, extra: { routers?: string; top?: string; hooks?: Stage[]; features?: string } = {}): Promise<Setup> {
  const upstream = await MockUpstream.start();
  const log = new AccessLog();
  const yaml = `
version: 1
logging: { level: info }
upstreams:
  up: { provider: openai, url: ${upstream.url} }
  claude: { provider: anthropic, url: ${upstream.url} }
${extra.top ?? ''}
defaults:
  interceptors:
${interceptors}
default_router: main
routers:
  main:
    targets: [{ upstream: up }]
${extra.features ? `    features: ${extra.features}\n` : ''}  anthropic:
    aliases: [claude-haiku-4-5]
    targets: [{ upstream: claude }]
${extra.routers ?? ''}
`;
  const gw = await startGateway(yaml, { logger: pino({ level: 'info' }, log.sink), hooks: extra.hooks });
  return {
    upstream,
    gw,
    log,
    yaml,
    async close() {
      await gw.close();
      await upstream.close();
    },
  };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json(): any;
}

export async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

export const chat = (url: string, content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<Answer> =>
  post(url, '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content }], ...extra }, headers);

export const messages = (url: string, content: string, extra: Record<string, unknown> = {}): Promise<Answer> =>
  post(url, '/v1/messages', { model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content }], ...extra });

/** The `data:` payloads of an SSE body. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((event) => event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n'));
}

/** The text an OpenAI chat stream's deltas add up to. */
export function chatStreamText(text: string): string {
  return sseData(text)
    .filter((d) => d !== '[DONE]' && d.startsWith('{'))
    .map((d) => JSON.parse(d).choices?.[0]?.delta?.content ?? '')
    .join('');
}

/** An Anthropic Messages answer. */
export function anthropicMessage(text: string) {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-haiku-4-5',
    content: [{ type: 'text', text }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 5, output_tokens: 3 },
  };
}

/** An Anthropic Messages stream whose text arrives in `pieces`, as `[event, data]` pairs. */
export function anthropicStream(pieces: string[]): string {
  const events: [string, unknown][] = [
    ['message_start', { type: 'message_start', message: { ...anthropicMessage(''), content: [], stop_reason: null } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['ping', { type: 'ping' }],
    ...pieces.map((p): [string, unknown] => ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: p } }]),
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 3 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
  return events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`).join('');
}

/** The text of an Anthropic stream's text deltas. */
export function anthropicStreamText(text: string): string {
  return sseData(text)
    .filter((d) => d.startsWith('{'))
    .map((d) => JSON.parse(d))
    .filter((v) => v.type === 'content_block_delta')
    .map((v) => v.delta.text)
    .join('');
}

/** One sample of a Prometheus metric with exactly these labels, or 0. */
export async function metric(adminUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const have = inner.split(',');
    if (have.length === want.length && want.every((w) => have.includes(w))) return Number(line.slice(line.indexOf('}') + 1));
  }
  return 0;
}
