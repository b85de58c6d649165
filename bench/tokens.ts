/**
 * What the token counter costs: `countRequestTokens` on a chat request of about 100 KB
 * (the size `context_trimming` and `context_compression` count on every request past their
 * byte pre-check), per encoding. The encoding is loaded before timing (compile time does it).
 *
 *   node --import tsx bench/tokens.ts [--size 100kb] [--runs 200]
 */
import { countRequestTokens, loadEncoding, modelInfo } from '../src/tokens/index.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const bytes = Number.parseInt(arg('size', '100kb'), 10) * 1024;
const runs = Number(arg('runs', '200'));

/** English-like prose with code and numbers, split into turns of about 2 KB. */
function prompt(size: number): Record<string, unknown> {
  const words = ['the', 'gateway', 'counts', 'tokens', 'before', 'it', 'sends', 'a', 'request,', 'and', 'keeps', '42', 'turns;', 'function', 'trim(x)', '{', 'return', 'x.slice(1);', '}', 'über', '東京'];
  const messages: { role: string; content: string }[] = [{ role: 'system', content: 'You are a careful assistant.' }];
  let total = 0;
  let n = 0;
  while (total < size) {
    let text = '';
    while (text.length < 2048) text += `${words[(n++ * 7) % words.length]} `;
    messages.push({ role: messages.length % 2 ? 'user' : 'assistant', content: text });
    total += text.length;
  }
  return { model: 'gpt-4o', messages };
}

const body = prompt(bytes);
const size = Buffer.byteLength(JSON.stringify(body));
for (const model of ['gpt-4o', 'gpt-4-turbo']) {
  loadEncoding(modelInfo(model).encoding);
  for (let i = 0; i < 20; i++) countRequestTokens('openai', body, model); // warm the JIT
  const times: number[] = [];
  let tokens = 0;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    tokens = countRequestTokens('openai', body, model);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (q: number): string => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(3);
  console.log(`countRequestTokens ${model} (${modelInfo(model).encoding}): ${(size / 1024).toFixed(0)} KB, ${tokens} tokens: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms over ${runs} runs`);
}
