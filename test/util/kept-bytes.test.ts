import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keptBytes, keptText } from '../../src/util/kept-bytes.js';
import { finishRecording, type Recording } from '../../src/features/answer-recording.js';
import { decodeEntry, encodeEntry } from '../../src/state/entry-codec.js';
import type { RequestContext } from '../../src/pipeline/context.js';

/** A buffer that is the whole of its memory: keeping it keeps nothing else alive. */
function ownsItsMemory(buf: Buffer): boolean {
  return buf.byteOffset === 0 && buf.buffer.byteLength === buf.length;
}

test('small buffers Node hands out share a slab (what kept bytes avoid)', () => {
  assert.equal(ownsItsMemory(Buffer.from('a short answer')), false);
  assert.equal(ownsItsMemory(Buffer.concat([Buffer.from('a'), Buffer.from('b')])), false);
});

test('keptBytes copies the chunks into memory of its own', () => {
  const chunks = [Buffer.from('{"id":'), Buffer.from('"x"'), Buffer.from('}')];
  const kept = keptBytes(chunks);
  assert.equal(kept.toString(), '{"id":"x"}');
  assert.ok(ownsItsMemory(kept));
  chunks[0]!.fill(0);
  assert.equal(kept.toString(), '{"id":"x"}', 'a copy, not a view');
  assert.equal(keptBytes([Buffer.from('abcd'), Buffer.from('efgh')], 6).toString(), 'abcdef');
  assert.equal(keptBytes([]).length, 0);
});

test('keptText writes a text as UTF-8 into memory of its own', () => {
  const kept = keptText('la mémoire, 记忆');
  assert.equal(kept.toString(), 'la mémoire, 记忆');
  assert.equal(kept.length, Buffer.byteLength('la mémoire, 记忆'));
  assert.ok(ownsItsMemory(kept));
  assert.equal(keptText('').length, 0);
});

test('a recorded answer and its encoded entry own their memory', () => {
  const recording: Recording = {
    status: 200,
    headers: { 'content-type': 'text/event-stream' },
    kind: 'sse',
    chunks: [Buffer.from('data: {"choices":[]}\n\n'), Buffer.from('data: {"choices":[],"usage":{"total_tokens":3}}\n\ndata: [DONE]\n\n')],
    size: 0,
  };
  recording.size = recording.chunks!.reduce((n, c) => n + c.length, 0);
  const ctx = { completed: true, error: null } as unknown as RequestContext;
  const entry = finishRecording(ctx, recording, 1000, 5000)!;
  assert.ok(ownsItsMemory(entry.body));
  assert.ok(entry.bodyNoUsage && ownsItsMemory(entry.bodyNoUsage));
  assert.ok(!entry.bodyNoUsage.toString().includes('usage'));
  const encoded = encodeEntry(entry);
  assert.ok(ownsItsMemory(encoded));
  const back = decodeEntry(encoded);
  assert.equal(back.body.toString(), entry.body.toString());
  assert.equal(back.bodyNoUsage?.toString(), entry.bodyNoUsage.toString());
});
