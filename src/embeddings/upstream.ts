import { LRUCache } from 'lru-cache';
import type { Provider } from '../providers/provider.js';
import { normalize, type Embedder } from './embedder.js';

export interface UpstreamEmbedderOptions {
  /** Most texts in one `/v1/embeddings` call. */
  readonly batch?: number;
  /** Recent texts whose vectors are kept. */
  readonly cacheEntries?: number;
  /** The longest one call may take. */
  readonly timeoutMs?: number;
  /** Longer texts are embedded by their first this many characters. */
  readonly maxChars?: number;
}

const DEFAULTS = { batch: 64, cacheEntries: 2048, timeoutMs: 10_000, maxChars: 32_768 };

interface Pending {
  readonly text: string;
  readonly resolve: (vector: Float32Array) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * A named upstream's `/v1/embeddings` (any provider that serves it). Texts asked for in
 * the same turn of the event loop go out together, in batches; recent texts are answered
 * from a small LRU; equal texts in flight share one slot of a call.
 */
export function createUpstreamEmbedder(upstream: string, provider: Provider, model: string, options: UpstreamEmbedderOptions = {}): Embedder {
  const fetchJson = provider.fetchJson?.bind(provider);
  if (!fetchJson) throw new Error(`upstream "${upstream}" cannot serve embeddings to the gateway (its provider makes no calls of its own)`);
  const batchSize = options.batch ?? DEFAULTS.batch;
  const timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  const maxChars = options.maxChars ?? DEFAULTS.maxChars;
  const cache = new LRUCache<string, Float32Array>({ max: options.cacheEntries ?? DEFAULTS.cacheEntries });
  const inFlight = new Map<string, Promise<Float32Array>>();
  let queue: Pending[] = [];
  let scheduled = false;

  async function call(batch: Pending[]): Promise<void> {
    try {
      const answer = await fetchJson!('/v1/embeddings', { model, input: batch.map((p) => p.text), encoding_format: 'float' }, AbortSignal.timeout(timeoutMs));
      const data = (answer.body as { data?: { index?: number; embedding?: unknown }[] } | null)?.data;
      if (answer.status !== 200 || !Array.isArray(data) || data.length !== batch.length) {
        throw new Error(`upstream "${upstream}" answered /v1/embeddings with status ${answer.status} and ${Array.isArray(data) ? data.length : 'no'} vectors for ${batch.length} texts`);
      }
      const byIndex = new Array<Float32Array | undefined>(batch.length);
      data.forEach((item, i) => {
        if (!Array.isArray(item.embedding) || item.embedding.some((x) => typeof x !== 'number')) return;
        byIndex[typeof item.index === 'number' ? item.index : i] = normalize(Float32Array.from(item.embedding as number[]));
      });
      batch.forEach((p, i) => {
        const vector = byIndex[i];
        if (vector) p.resolve(vector);
        else p.reject(new Error(`upstream "${upstream}" sent no usable vector for text ${i}`));
      });
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  function flush(): void {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += batchSize) void call(all.slice(i, i + batchSize));
  }

  function one(raw: string): Promise<Float32Array> {
    const text = raw.length > maxChars ? raw.slice(0, maxChars) : raw;
    const cached = cache.get(text);
    if (cached) return Promise.resolve(cached);
    let pending = inFlight.get(text);
    if (pending) return pending;
    pending = new Promise<Float32Array>((resolve, reject) => {
      queue.push({ text, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    }).then(
      (vector) => {
        inFlight.delete(text);
        cache.set(text, vector);
        return vector;
      },
      (err: unknown) => {
        inFlight.delete(text);
        throw err;
      },
    );
    inFlight.set(text, pending);
    return pending;
  }

  return Object.freeze({
    id: `upstream:${upstream}:${model}`,
    embed: (texts: readonly string[]) => Promise.all(texts.map(one)),
  });
}
