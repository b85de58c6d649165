/**
 * Runs evaluation cases through the gateway's real request handler (every feature,
 * interceptor and translation), in this process, as the gateway's own inject() does.
 * - Offline (default): every upstream is the mock provider, state is in memory, and a
 *   case's `mock:` is the mock's answer to that case's request (matched by its request
 *   id, known only to this runner).
 * - Live: the configured upstreams and state store. The gateway's own rate limits apply,
 *   and a 429 (from it or an upstream) is waited out as its `Retry-After` asks.
 */
import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../config/load.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { closePipeline, compile } from '../pipeline/compile.js';
import type { Pipeline } from '../pipeline/compiled.js';
import { retryAfterMs } from '../pipeline/failures.js';
import { handleRequest, type Runtime } from '../pipeline/handle.js';
import type { HeaderMap } from '../providers/provider.js';
import { injector, type Inject } from '../server/inject.js';
import { offlineProviders } from '../review/offline.js';
import { createStateStore } from '../state/create.js';
import { MemoryStore } from '../state/memory.js';
import type { StateStore } from '../state/store.js';
import type { CompiledCase } from './cases.js';
import { checkAnswer, excerpt, type Answer } from './expect.js';
import { DEFAULT_JUDGE_THRESHOLD, judgeRequest, parseVerdict } from './judge.js';

export interface RunOptions {
  readonly live: boolean;
  /** Cases in flight at once. */
  readonly concurrency: number;
  /** Called after each case. */
  readonly onProgress?: (done: number, passed: number, total: number) => void;
}

export interface CaseResult {
  readonly name: string;
  readonly source: string;
  readonly tags: readonly string[];
  readonly passed: boolean;
  /** 1 or 0; for `llm`, the judge's score. */
  readonly score: number;
  /** Why it failed ('' when it passed). */
  readonly reason: string;
  readonly status: number;
  readonly target: string | null;
  readonly latencyMs: number;
  /** USD, from the answer's usage and the pricing table; null when unknown. */
  readonly costUsd: number | null;
  readonly answer: string;
}

/** The most bytes of one answer read. */
const MAX_ANSWER_BYTES = 8 * 1024 * 1024;
/** A 429 is waited out at most this many times per request, at most this long each. */
const RATE_LIMIT_TRIES = 5;
const MAX_WAIT_MS = 60_000;

type Json = Record<string, any>;

/** The text of an answer: chat content, a completion's text, a streamed answer's deltas, or an error's message. */
function textOf(contentType: string, raw: string): { text: string; usage: Json | null; model: string | null } {
  if (contentType.startsWith('text/event-stream')) {
    let text = '';
    let usage: Json | null = null;
    let model: string | null = null;
    for (const line of raw.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') continue;
      try {
        const event = JSON.parse(data) as Json;
        text += event.choices?.[0]?.delta?.content ?? event.choices?.[0]?.text ?? event.error?.message ?? '';
        usage = event.usage ?? usage;
        model = event.model ?? model;
      } catch {
        // not JSON: not part of the text
      }
    }
    return { text, usage, model };
  }
  try {
    const body = JSON.parse(raw) as Json;
    const choice = body.choices?.[0];
    const blocks = Array.isArray(body.content) ? body.content.map((b: Json) => b?.text ?? '').join('') : undefined;
    const text = choice?.message?.content ?? choice?.text ?? body.output_text ?? blocks ?? body.error?.message ?? raw;
    return { text: typeof text === 'string' ? text : JSON.stringify(text), usage: body.usage ?? null, model: body.model ?? null };
  } catch {
    return { text: raw, usage: null, model: null };
  }
}

function lastUserText(c: CompiledCase): string {
  const messages = (c.messages ?? (c.body?.messages as Json[] | undefined) ?? []) as Json[];
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') return typeof messages[i]!.content === 'string' ? messages[i]!.content : JSON.stringify(messages[i]!.content);
  }
  return '';
}

/** The in-process gateway the cases are sent to: the request handler, called without a socket. */
class Harness {
  private readonly inject: Inject;

  private constructor(
    readonly pipeline: Pipeline,
    private readonly store: StateStore,
    private readonly scripts: Map<string, string>,
    logger: Logger,
    metrics: Metrics,
  ) {
    const runtime: Runtime = {
      logger,
      metrics,
      current: () => pipeline,
      acquire: (p) => void p.lease.inflight++,
      release: (p) => void p.lease.inflight--,
    };
    this.inject = injector((req, res) => handleRequest(runtime, req, res));
  }

  static async open(loaded: LoadedConfig, live: boolean): Promise<Harness> {
    const logger = createLogger('silent');
    const metrics = new Metrics();
    const store = live ? createStateStore(loaded.config.state, { logger, metrics, now: Date.now }) : new MemoryStore();
    const scripts = new Map<string, string>();
    const providers = live ? {} : offlineProviders({ answer: (ctx) => scripts.get(ctx.id) });
    let harness: Harness | null = null;
    const inject: Inject = (r) => (harness ? harness.inject(r) : Promise.reject(new Error('the eval harness is not ready')));
    try {
      harness = new Harness(await compile(loaded, { logger, metrics, hooks: [], providers, state: store, inject }), store, scripts, logger, metrics);
    } catch (err) {
      await store.close();
      throw err;
    }
    return harness;
  }

  async start(): Promise<void> {
    await this.store.ready();
  }

  /** Sends one request (waiting out 429s); `script` is the offline mock's answer to it. */
  async send(path: string, body: Json, headers: Readonly<Record<string, string>>, script: string | undefined, expectStatus?: number) {
    for (let attempt = 1; ; attempt++) {
      const id = `eval-${randomUUID()}`;
      if (script !== undefined) this.scripts.set(id, script);
      try {
        const res = await this.inject({ url: path, headers: { ...headers, 'x-request-id': id }, body });
        if (res.body.length > MAX_ANSWER_BYTES) throw new Error(`the answer is larger than ${MAX_ANSWER_BYTES} bytes`);
        const header = (name: string): string | null => (res.headers[name] === undefined ? null : String(res.headers[name]));
        const wait = res.status === 429 && expectStatus !== 429 && attempt < RATE_LIMIT_TRIES ? retryAfterMs(res.headers as HeaderMap) : null;
        if (wait !== null) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(wait, MAX_WAIT_MS)));
          continue;
        }
        return { status: res.status, contentType: header('content-type') ?? '', raw: res.body.toString('utf8'), target: header('x-sidegate-target') };
      } finally {
        this.scripts.delete(id);
      }
    }
  }

  async close(): Promise<void> {
    await closePipeline(this.pipeline);
    await this.store.close();
  }
}

async function runCase(h: Harness, c: CompiledCase, live: boolean): Promise<CaseResult> {
  const path = c.router === undefined ? (c.path ?? '/v1/chat/completions') : `/router/${encodeURIComponent(c.router)}${c.path ?? '/v1/chat/completions'}`;
  const body: Json = { ...(c.body ?? { messages: c.messages }) };
  if (c.model !== undefined) body.model = c.model;
  else if (body.model === undefined && c.router !== undefined) body.model = c.router;
  const started = performance.now();
  const base = { name: c.name, source: c.source, tags: c.tags };
  let sent;
  try {
    sent = await h.send(path, body, c.headers ?? {}, live ? undefined : c.mock, c.expect.status);
  } catch (err) {
    const latencyMs = performance.now() - started;
    return { ...base, passed: false, score: 0, reason: `the request failed: ${(err as Error).message}`, status: 0, target: null, latencyMs, costUsd: null, answer: '' };
  }
  const latencyMs = performance.now() - started;
  const { text, usage, model } = textOf(sent.contentType, sent.raw);
  const answer: Answer = { status: sent.status, text, target: sent.target, model };
  const priced = usage && model ? h.pipeline.pricing.cost(model, usage.prompt_tokens ?? usage.input_tokens ?? 0, usage.completion_tokens ?? usage.output_tokens ?? 0) : null;
  const result = { ...base, status: sent.status, target: sent.target, latencyMs, costUsd: priced, answer: text };
  const failed = checkAnswer(c, answer);
  if (failed !== null) return { ...result, passed: false, score: 0, reason: failed };
  const llm = c.expect.llm;
  if (!llm) return { ...result, passed: true, score: 1, reason: '' };

  const judged = await h.send(`/router/${encodeURIComponent(llm.router)}/v1/chat/completions`, judgeRequest(llm, lastUserText(c), text), {}, live ? undefined : llm.mock);
  const verdictText = textOf(judged.contentType, judged.raw).text;
  const verdict = judged.status === 200 ? parseVerdict(verdictText) : null;
  if (!verdict) return { ...result, passed: false, score: 0, reason: `the judge (router ${llm.router}) gave no score: status ${judged.status}, ${excerpt(verdictText)}` };
  const threshold = llm.threshold ?? DEFAULT_JUDGE_THRESHOLD;
  const passed = verdict.score >= threshold;
  const reason = passed ? '' : `the judge scored ${verdict.score} (below ${threshold})${verdict.reason ? `: ${verdict.reason}` : ''}`;
  return { ...result, passed, score: verdict.score, reason };
}

/** Runs `cases` on `loaded`'s pipeline; resolves with one result per case, in the cases' order. */
export async function runEval(loaded: LoadedConfig, cases: readonly CompiledCase[], options: RunOptions): Promise<CaseResult[]> {
  const harness = await Harness.open(loaded, options.live);
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  let done = 0;
  let passed = 0;
  try {
    await harness.start();
    const worker = async (): Promise<void> => {
      while (next < cases.length) {
        const i = next++;
        results[i] = await runCase(harness, cases[i]!, options.live);
        done++;
        if (results[i]!.passed) passed++;
        options.onProgress?.(done, passed, cases.length);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, cases.length)) }, worker));
  } finally {
    await harness.close();
  }
  return results;
}
