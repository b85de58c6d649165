/**
 * The load the bench puts on a target (the mock directly, the bare proxy or sidegate):
 * throughput with autocannon, and latency and time to first SSE chunk with a one-connection
 * undici client, whose microsecond timings autocannon's millisecond histogram cannot give.
 */
import autocannon from 'autocannon';
import { Client } from 'undici';
import { median, percentile } from './stats.js';

export const CHAT_PATH = '/v1/chat/completions';

/** What the bench sends: the model (which selects a router) and whether every body differs. */
export interface Shape {
  models: readonly string[];
  /** Make each request unique (a `user` field with a counter), so that a cache always misses. */
  vary: boolean;
}

let sequence = 0;

/** A small chat request, as an app would send it. */
export function chatBody(model: string, vary: boolean, stream = false): string {
  return JSON.stringify({
    model,
    ...(vary ? { user: `bench-${++sequence}` } : {}),
    messages: [
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Say hello in one short sentence.' },
    ],
    max_tokens: 32,
    ...(stream ? { stream: true } : {}),
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };

export interface LoadResult {
  /** Requests per second over the run. */
  rps: number;
  requests: number;
  /** Answers that were not 2xx, plus errors and timeouts. */
  failures: number;
}

export interface LoadOptions {
  connections: number;
  /** Seconds to run, or the number of requests to send (`amount`). */
  seconds?: number;
  amount?: number;
  shape: Shape;
  /** Called once the load runs, with a function that stops it early. */
  onStart?: (stop: () => void) => void;
}

/** Runs autocannon against `baseUrl`'s chat endpoint. */
export function load(baseUrl: string, opts: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: baseUrl + CHAT_PATH,
        connections: opts.connections,
        pipelining: 1,
        ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.seconds ?? 1 }),
        timeout: 10,
        requests: opts.shape.models.map((model) => {
          const base = { method: 'POST' as const, path: CHAT_PATH, headers: JSON_HEADERS, body: chatBody(model, false) };
          return opts.shape.vary ? { ...base, setupRequest: (req: autocannon.Request) => ({ ...req, body: chatBody(model, true) }) } : base;
        }),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        const elapsedSec = result.duration > 0 ? result.duration : (opts.seconds ?? 1);
        resolve({
          rps: result.requests.total / elapsedSec,
          requests: result.requests.total,
          failures: result.non2xx + result.errors + result.timeouts,
        });
      },
    );
    opts.onStart?.(() => instance.stop());
  });
}

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  samples: number;
  failures: number;
}

function clientFor(baseUrl: string): Client {
  return new Client(baseUrl, { pipelining: 1, keepAliveTimeout: 30_000 });
}

/** One request at a time on one keep-alive connection for `seconds`: p50 and p99 in ms. */
export async function latency(baseUrl: string, seconds: number, shape: Shape): Promise<LatencyResult> {
  const client = clientFor(baseUrl);
  const samples: number[] = [];
  let failures = 0;
  try {
    const deadline = performance.now() + seconds * 1000;
    while (performance.now() < deadline) {
      const body = chatBody(shape.models[samples.length % shape.models.length]!, shape.vary);
      const t0 = performance.now();
      const res = await client.request({ path: CHAT_PATH, method: 'POST', headers: JSON_HEADERS, body });
      await res.body.arrayBuffer();
      const ms = performance.now() - t0;
      if (res.statusCode >= 200 && res.statusCode < 300) samples.push(ms);
      else failures++;
    }
  } finally {
    await client.close();
  }
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), samples: samples.length, failures };
}

export interface FirstChunkResult {
  medianMs: number;
  samples: number;
  failures: number;
}

/** `count` streaming requests, one at a time: the median time from sending to the first body bytes. */
export async function firstChunk(baseUrl: string, count: number, shape: Shape): Promise<FirstChunkResult> {
  const client = clientFor(baseUrl);
  const samples: number[] = [];
  let failures = 0;
  try {
    for (let i = 0; i < count; i++) {
      const body = chatBody(shape.models[i % shape.models.length]!, shape.vary, true);
      const t0 = performance.now();
      const res = await client.request({ path: CHAT_PATH, method: 'POST', headers: JSON_HEADERS, body });
      let first = -1;
      let text = '';
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (first < 0) first = performance.now() - t0;
        text += chunk.toString('latin1');
      }
      if (res.statusCode === 200 && first >= 0 && text.includes('data: [DONE]')) samples.push(first);
      else failures++;
    }
  } finally {
    await client.close();
  }
  return { medianMs: median(samples), samples: samples.length, failures };
}
