/**
 * The in-process vector space (what the semantic cache and semantic memory keep without
 * Redis): bounded per scope and in bytes, oldest out first, and its byte count stays
 * exact through replacements and evictions, so the bound holds over a long run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryVectorSpace, recordSize, type VectorRecord } from '../../src/state/vector-space.js';

const unit = (i: number): Float32Array => {
  const v = new Float32Array(4);
  v[i % 4] = 1;
  return v;
};
const record = (id: string, i = 0, bytes = 100): VectorRecord => ({ id, vector: unit(i), value: Buffer.alloc(bytes, 1), storedAt: 0, expiresAt: Number.MAX_SAFE_INTEGER });
const ids = (space: MemoryVectorSpace, scope: string): string[] => space.search(scope, unit(0), 100, -1, 1).map((m) => m.record.id).sort();
const stats = (space: MemoryVectorSpace): { scopes: number; records: number; bytes: number } => space.stats() as { scopes: number; records: number; bytes: number };

test('a scope keeps its newest maxPerScope records', () => {
  const space = new MemoryVectorSpace({ maxPerScope: 2, maxBytes: 1e9 });
  for (const id of ['a', 'b', 'c']) space.add('s', record(id));
  assert.deepEqual(ids(space, 's'), ['b', 'c']);
  assert.equal(stats(space).bytes, 2 * recordSize(record('a')));
  assert.equal(space.evictions, 1);
});

test('the same id again replaces the record and counts its bytes once', () => {
  const space = new MemoryVectorSpace({ maxPerScope: 10, maxBytes: 1e9 });
  space.add('s', record('a', 0, 100));
  space.add('s', record('a', 1, 300));
  assert.deepEqual(ids(space, 's'), ['a']);
  assert.equal(stats(space).records, 1);
  assert.equal(stats(space).bytes, recordSize(record('a', 1, 300)));
  assert.equal(space.search('s', unit(1), 1, 0.9, 1)[0]?.record.value.length, 300);
});

test('past maxBytes the oldest records go, whatever their scope, and an emptied scope goes with them', () => {
  const one = recordSize(record('x'));
  const space = new MemoryVectorSpace({ maxPerScope: 10, maxBytes: 3 * one });
  space.add('old', record('1'));
  space.add('mid', record('2'));
  space.add('new', record('3'));
  space.add('new', record('4'));
  assert.deepEqual(ids(space, 'old'), []);
  assert.deepEqual(ids(space, 'mid'), ['2']);
  assert.deepEqual(ids(space, 'new'), ['3', '4']);
  assert.equal(stats(space).scopes, 2);
  assert.equal(stats(space).records, 3);
  assert.equal(stats(space).bytes, 3 * one);
  // A replaced record moves to the back: it outlives the one that was stored after it.
  space.add('mid', record('2'));
  space.add('new', record('5'));
  assert.deepEqual(ids(space, 'mid'), ['2']);
  assert.deepEqual(ids(space, 'new'), ['4', '5']);
});

test('a long run of unique scopes stays within the byte bound with an exact count', async () => {
  const one = recordSize(record('id-0000'));
  const space = new MemoryVectorSpace({ maxPerScope: 3, maxBytes: 50 * one });
  for (let i = 0; i < 5000; i++) space.add(`scope-${i % 700}`, record(`id-${String(i).padStart(4, '0')}`, i));
  const s = stats(space);
  assert.equal(s.records, 50);
  assert.equal(s.bytes, 50 * one);
  assert.ok(s.scopes <= 50);
  assert.deepEqual(ids(space, 'scope-99'), ['id-4999']);
  // forget() of one scope takes its records and their bytes.
  assert.equal(await space.forget('scope-99'), 1);
  assert.equal(stats(space).records, 49);
  assert.equal(stats(space).bytes, 49 * one);
});
