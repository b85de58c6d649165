import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  cosine,
  createUpstreamEmbedder,
  embedLocal,
  LOCAL_DEFAULT_THRESHOLD,
  VectorIndex,
} from '../../src/embeddings/index.js';
import { openai } from '../../src/providers/openai.js';
import { MockUpstream, steps } from '../support/mock-upstream.js';

interface Pair {
  a: string;
  b: string;
  same: boolean;
}
const { pairs } = JSON.parse(readFileSync(new URL('./paraphrases.json', import.meta.url), 'utf8')) as { pairs: Pair[] };

/** Precision and recall of "same request" at a threshold, over the labelled pairs. */
function score(threshold: number): { precision: number; recall: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const p of pairs) {
    const hit = cosine(embedLocal(p.a), embedLocal(p.b)) >= threshold;
    if (hit && p.same) tp++;
    else if (hit) fp++;
    else if (p.same) fn++;
  }
  return { precision: tp / (tp + fp), recall: tp / (tp + fn) };
}

describe('the local embedder', () => {
  test('is deterministic and unit length', () => {
    const a = embedLocal('How do I reset my password?');
    assert.deepEqual(a, embedLocal('How do I reset my password?'));
    assert.ok(Math.abs(cosine(a, a) - 1) < 1e-5);
  });

  test('on the labelled paraphrase set: precision 1.0 and recall above 0.55 at the default threshold', () => {
    assert.ok(pairs.length >= 50 && pairs.some((p) => p.same) && pairs.some((p) => !p.same));
    const { precision, recall } = score(LOCAL_DEFAULT_THRESHOLD);
    assert.equal(precision, 1, `precision ${precision}`);
    assert.ok(recall > 0.55, `recall ${recall}`);
    // A lower threshold finds more paraphrases but lets in different requests: the trade the default makes.
    const loose = score(0.6);
    assert.ok(loose.recall > recall && loose.precision < 1);
  });
});

describe('the vector index', () => {
  test('returns the k most similar above the score, best first, and stays bounded', () => {
    const index = new VectorIndex<string>(3);
    for (const text of ['reset my password', 'capital of France', 'cancel my subscription', 'password reset steps']) {
      index.add(text, embedLocal(text), text.toUpperCase());
    }
    assert.equal(index.size, 3, 'the oldest entry went');
    const found = index.search(embedLocal('how to reset a password'), 2, 0.3);
    assert.deepEqual(found.map((m) => m.value), ['PASSWORD RESET STEPS']);
    assert.equal(index.search(embedLocal('capital of france'), 1)[0]!.id, 'capital of France');
  });
});

describe('the upstream embedder', () => {
  let upstream: MockUpstream;
  const calls: { input: string[]; auth: string | undefined }[] = [];

  before(async () => {
    upstream = await MockUpstream.start((req, res) => {
      const body = req.json();
      calls.push({ input: body.input, auth: req.headers.authorization });
      if (body.input.includes('fail')) return steps.json(500, { error: { message: 'boom' } })(req, res);
      const data = body.input.map((text: string, index: number) => ({ object: 'embedding', index, embedding: [text.length, 1, 0] }));
      return steps.json(200, { object: 'list', data, model: body.model })(req, res);
    });
  });
  after(() => upstream.close());

  test('batches the texts of one turn into one call, with the upstream credential, and caches recent texts', async () => {
    const provider = openai.create({ provider: 'openai', url: upstream.url, auth: { bearer: 'sk-embed' } }, { name: 'emb', connectTimeoutMs: null, timeoutMs: 60_000, connections: 8 });
    const embedder = createUpstreamEmbedder('emb', provider, 'text-embedding-3-small');
    const [first, second] = await Promise.all([embedder.embed(['one', 'three']), embedder.embed(['three', 'seven'])]);
    assert.equal(calls.length, 1, 'one call for both');
    assert.deepEqual(calls[0], { input: ['one', 'three', 'seven'], auth: 'Bearer sk-embed' });
    assert.ok(Math.abs(cosine(first![1]!, second![0]!) - 1) < 1e-6, 'the same text, the same vector');
    assert.ok(Math.abs(cosine(first![0]!, first![0]!) - 1) < 1e-6, 'unit length');
    await embedder.embed(['seven', 'one']);
    assert.equal(calls.length, 1, 'answered from the cache of recent texts');
    await assert.rejects(embedder.embed(['fail']), /status 500/);
    await provider.close();
  });
});
