import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encode as encodeO200k } from 'gpt-tokenizer/encoding/o200k_base';
import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { countRequestTokens, countTokens, maxTokensOf, modelInfo } from '../../src/tokens/index.js';

const text = 'The gateway trims the oldest turns first, and keeps the system prompt.';

test('counts with the encoding of the model family, as the tokenizer itself does', () => {
  assert.equal(countTokens(text, 'gpt-4o-mini'), encodeO200k(text).length);
  assert.equal(countTokens(text, 'gpt-4-0613'), encodeCl100k(text).length);
  assert.notEqual(encodeO200k('naïve façade 東京 🙂').length, encodeCl100k('naïve façade 東京 🙂').length);
  assert.equal(countTokens('naïve façade 東京 🙂', 'gpt-3.5-turbo'), encodeCl100k('naïve façade 東京 🙂').length);
});

test('text that looks like a special token is counted as text, never refused', () => {
  assert.ok(countTokens('end <|endoftext|> here', 'gpt-4o') > 3);
});

test('the byte length bounds the count from above', () => {
  for (const sample of [text, '東京 🙂🙂', 'a'.repeat(1000)]) assert.ok(countTokens(sample, 'gpt-4o') <= maxTokensOf(sample));
});

test('the model table: versions find their family, unknown models get the fallback', () => {
  assert.deepEqual(modelInfo('gpt-4o-2024-08-06'), { encoding: 'o200k_base', contextWindow: 128_000, maxOutput: 16_384 });
  assert.equal(modelInfo('claude-sonnet-4-5-20250929').contextWindow, 200_000);
  assert.equal(modelInfo('claude-sonnet-4-5-20250929').maxOutput, 64_000);
  assert.equal(modelInfo('my-local-llama').contextWindow, 128_000);
});

test('a request: every message with its framing, tools, and Anthropic system prompts', () => {
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: [{ type: 'text', text }, { type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
  ];
  const openai = countRequestTokens('openai', { model: 'gpt-4o', messages });
  const expected = 3 + encodeO200k('system').length + encodeO200k('Be brief.').length + 3 + encodeO200k('user').length + encodeO200k(text).length + 85 + 3;
  assert.equal(openai, expected);
  const anthropic = countRequestTokens('anthropic', { model: 'claude-haiku-4-5', system: 'Be brief.', messages: [{ role: 'user', content: text }] });
  assert.equal(anthropic, 3 + encodeCl100k('user').length + encodeCl100k(text).length + 3 + encodeCl100k('Be brief.').length);
  const withTools = countRequestTokens('openai', { model: 'gpt-4o', messages, tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] });
  assert.ok(withTools > openai);
});
