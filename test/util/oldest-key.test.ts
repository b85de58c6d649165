import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OldestKey } from '../../src/util/oldest-key.js';

/** Evicts oldest first until `size` keys are left; returns what went, in order. */
function evictTo(map: Map<string, number>, oldest: OldestKey<string>, size: number): string[] {
  const gone: string[] = [];
  while (map.size > size) {
    const key = oldest.take()!;
    map.delete(key);
    gone.push(key);
  }
  return gone;
}

test('gives keys oldest first, skipping keys deleted meanwhile and reaching keys added after', () => {
  const map = new Map<string, number>([['a', 1], ['b', 2], ['c', 3], ['d', 4]]);
  const oldest = new OldestKey(map);
  assert.deepEqual(evictTo(map, oldest, 3), ['a']);
  map.delete('c'); // removed out of order: never offered
  map.delete('b');
  map.set('b', 5); // re-added: now the newest
  map.set('e', 6);
  assert.deepEqual(evictTo(map, oldest, 0), ['d', 'b', 'e']);
  assert.equal(oldest.take(), undefined);
});

test('starts over once the map ran empty, and after a clear', () => {
  const map = new Map<string, number>();
  const oldest = new OldestKey(map);
  assert.equal(oldest.take(), undefined);
  map.set('x', 1).set('y', 2);
  assert.deepEqual(evictTo(map, oldest, 1), ['x']);
  map.clear();
  map.set('z', 3).set('w', 4);
  assert.deepEqual(evictTo(map, oldest, 0), ['z', 'w']);
});

test('keeps oldest-first order through many table rebuilds (a bounded FIFO of 1,000)', () => {
  const map = new Map<number, number>();
  const oldest = new OldestKey(map);
  for (let i = 0; i < 50_000; i++) {
    map.set(i, i);
    if (map.size > 1000) {
      const key = oldest.take()!;
      assert.equal(key, i - 1000);
      map.delete(key);
    }
  }
  assert.deepEqual([...map.keys()].slice(0, 2), [49_000, 49_001]);
});
