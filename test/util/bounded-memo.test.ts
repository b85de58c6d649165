import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoundedMemo } from '../../src/util/bounded-memo.js';

test('a memo computes each short key once, long keys every time, and starts over when full', () => {
  const computed: string[] = [];
  const memo = new BoundedMemo((key) => {
    computed.push(key);
    return key === 'none' ? null : key.length;
  }, 3, 8);
  assert.equal(memo.get('ab'), 2);
  assert.equal(memo.get('ab'), 2);
  assert.equal(memo.get('none'), null); // a null result is remembered too
  assert.equal(memo.get('none'), null);
  assert.deepEqual(computed, ['ab', 'none']);
  const long = 'x'.repeat(9);
  assert.equal(memo.get(long), 9);
  assert.equal(memo.get(long), 9);
  assert.deepEqual(computed, ['ab', 'none', long, long]);
  memo.get('c');
  memo.get('d'); // the fourth key: the memo starts over with it alone
  memo.get('c');
  memo.get('ab');
  assert.deepEqual(computed.slice(4), ['c', 'd', 'c', 'ab']);
});
