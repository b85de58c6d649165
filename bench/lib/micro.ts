/**
 * What the gateway's own computations cost, timed in this process (the bench's, between
 * the load measurements, so nothing else runs): the token counter on a 100 KB chat
 * request (context_trimming and context_compression count on every request past their
 * byte pre-check), the local embedder on a prompt (semantic_cache, semantic_memory,
 * semantic_classifier embed one per request), and the exact vector search over a full
 * scope of 1,000 and 10,000 entries.
 */
import { countRequestTokens, loadEncoding } from '../../src/tokens/index.js';
import { embedLocal } from '../../src/embeddings/index.js';
import { bestMatches, type VectorRecord } from '../../src/state/vector-space.js';

export interface MicroResult {
  /** Milliseconds per call, median and p99. */
  /** A fresh 100 KB conversation each time (nothing counted before). */
  readonly tokens100kb: { p50: number; p99: number; tokens: number };
  /** The same conversation again (its turns were counted by an earlier request). */
  readonly tokens100kbRepeat: { p50: number; p99: number };
  readonly embedPrompt: { p50: number; p99: number };
  readonly embed2kb: { p50: number; p99: number };
  readonly search1k: { p50: number; p99: number };
  readonly search10k: { p50: number; p99: number };
}

function time(runs: number, fn: () => unknown): { p50: number; p99: number } {
  for (let i = 0; i < Math.min(50, runs); i++) fn(); // warm the JIT
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    fn();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(times.length / 2)]!, p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))]! };
}

/** English-like prose with code and numbers, in turns of about 2 KB, `size` bytes in all. */
function chat(size: number, salt = ''): Record<string, unknown> {
  const words = ['the', 'gateway', 'counts', 'tokens', 'before', 'it', 'sends', 'a', 'request,', 'and', 'keeps', '42', 'turns;', 'function', 'trim(x)', '{', 'return', 'x.slice(1);', '}', 'über', '東京'];
  const messages: { role: string; content: string }[] = [{ role: 'system', content: 'You are a careful assistant.' }];
  let total = 0;
  let n = 0;
  while (total < size) {
    let text = salt;
    while (text.length < 2048) text += `${words[(n++ * 7) % words.length]} `;
    messages.push({ role: messages.length % 2 ? 'user' : 'assistant', content: text });
    total += text.length;
  }
  return { model: 'gpt-4o', messages };
}

function records(n: number): VectorRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    id: String(i),
    vector: embedLocal(`stored prompt number ${i} about topic ${i % 97} and detail ${i % 13}`),
    value: Buffer.alloc(0),
    storedAt: 0,
    expiresAt: Number.MAX_SAFE_INTEGER,
  }));
}

export function measureMicro(runs: number): MicroResult {
  loadEncoding('o200k_base');
  // Fresh texts each run (a salt per run), made before timing.
  const fresh = Array.from({ length: runs + 50 }, (_, i) => chat(100 * 1024, `r${i} `));
  let next = 0;
  let tokens = 0;
  const tokens100kb = time(runs, () => (tokens = countRequestTokens('openai', fresh[next++]!, 'gpt-4o')));
  const body = fresh[0]!;
  const tokens100kbRepeat = time(runs, () => countRequestTokens('openai', body, 'gpt-4o'));
  const prompt = 'Say hello in one short sentence.';
  const long = (chat(2048).messages as { content: string }[])[1]!.content;
  const query = embedLocal('a stored prompt about topic 5');
  const [small, large] = [records(1000), records(10_000)];
  return {
    tokens100kb: { ...tokens100kb, tokens },
    tokens100kbRepeat,
    embedPrompt: time(runs * 10, () => embedLocal(prompt)),
    embed2kb: time(runs, () => embedLocal(long)),
    search1k: time(runs, () => bestMatches(small, query, 1, 0.8, 1)),
    search10k: time(Math.max(20, runs / 5), () => bestMatches(large, query, 1, 0.8, 1)),
  };
}
