/**
 * One-connection clients of the bench: latency at one request at a time and the time to the
 * first SSE chunk, timed with performance.now() (microseconds, where load generators give
 * milliseconds or a histogram). Throughput and latency under load are wrk's (wrk.ts).
 */
import { Client } from 'undici';
import { CHAT_PATH, chatBody, type Shape } from './shape.js';
import { median, percentile } from './stats.js';

const JSON_HEADERS = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };

let sequence = 0;
const bodyFor = (shape: Shape, i: number, stream = shape.stream): string =>
  chatBody(shape.models[i % shape.models.length]!, { stream, bodyBytes: shape.bodyBytes }, shape.vary ? `c${process.pid}-${++sequence}` : null);

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
  failures: number;
}

function clientFor(baseUrl: string): Client {
  return new Client(baseUrl, { pipelining: 1, keepAliveTimeout: 30_000 });
}

/**
 * One request at a time on one keep-alive connection for `seconds` (or until `until`
 * resolves): p50, p99 and the slowest, in ms.
 */
export async function latency(baseUrl: string, seconds: number, shape: Shape, until?: Promise<unknown>): Promise<LatencyResult> {
  const client = clientFor(baseUrl);
  const samples: number[] = [];
  let failures = 0;
  let stop = false;
  void until?.then(() => (stop = true));
  try {
    const deadline = performance.now() + seconds * 1000;
    while (!stop && performance.now() < deadline) {
      const body = bodyFor(shape, samples.length);
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
  return { p50Ms: percentile(samples, 0.5), p99Ms: percentile(samples, 0.99), maxMs: percentile(samples, 1), samples: samples.length, failures };
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
      const body = bodyFor(shape, i, true);
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
