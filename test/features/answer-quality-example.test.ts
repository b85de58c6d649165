import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createGateway, explainPipeline } from '../../src/index.js';

test('examples/answer-quality.yaml: every feature placed on the ordered line, shown by explain, and serving', async () => {
  const gateway = await createGateway('examples/answer-quality.yaml', { watch: false });
  try {
    const text = explainPipeline(gateway.pipeline);
    const lines = text.split('\n').filter((l) => /^\s+\d+\s+feature /.test(l)).map((l) => l.trim().replace(/:.*/, ''));
    assert.deepEqual(lines, [
      '460  feature token_optimization',
      '465  feature context_compression',
      '470  feature context_trimming',
      '600  feature cost_aware_routing',
      '650  feature structured_output',
      '700  feature fallback',
      '800  feature retry',
      '850  feature quality_gate',
      '960  feature prompt_caching',
    ]);
    assert.match(text, /feature quality_gate: rejects answers failing min_chars 1, must_not_match 1 pattern\(s\), no refusal \(a failed try for retry and fallback\); streams checked at their end/);
    assert.match(text, /feature context_compression: past 24000 tokens, turns before the last 6 are replaced by a summary from router summarizer with prompt summary, cached by the turns' hash/);
    assert.match(text, /feature structured_output: validates answers against the request's JSON Schema \(response_format \/ output_format\); up to 3 tries/);

    const { url } = await gateway.listen({ listen: '127.0.0.1:0', admin: false });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-x', maxRetries: 0 });
    const { data, response } = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hello   there' }] }).withResponse();
    assert.equal(data.choices[0]!.message.content, 'This is the mock upstream. You said: hello there');
    assert.equal(response.headers.get('x-sidegate-tokens-saved'), '1');
  } finally {
    await gateway.close({ drainMs: 0 });
  }
});
