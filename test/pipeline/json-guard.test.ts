import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scanJson } from '../../src/pipeline/json-guard.js';

const duplicated = (text: string): boolean => scanJson(text).topLevelKeys > Object.keys(JSON.parse(text) as object).length;

test('a top-level key written twice is found, however it is spelled', () => {
  assert.equal(duplicated('{"model":"a","model":"b"}'), true);
  assert.equal(duplicated('{"model":"a","messages":[],"mod\\u0065l":"b"}'), true);
  assert.equal(duplicated('{ "stream" : false ,\n\t"stream"\r\n: true }'), true);
  assert.equal(duplicated('{"a\\"b":1,"a\\"b":2}'), true);
  assert.equal(duplicated('{"__proto__":1,"__proto__":2}'), true);
  assert.equal(duplicated(`{"model":"a","messages":[{"role":"user","content":"${'x'.repeat(100_000)}"}],"model":"b"}`), true);
});

test('keys repeated below the top level, and values that look like keys, are not duplicates', () => {
  assert.equal(duplicated('{"model":"a","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}'), false);
  assert.equal(duplicated('{"a":{"x":1,"x":2},"b":[{"x":1},{"x":2}]}'), false);
  assert.equal(duplicated('{"a":"b","c":"a","d":"\\"a\\":"}'), false);
  assert.equal(duplicated('{"a":"ends in a backslash \\\\","b":"{[:\\"]}"}'), false);
  assert.equal(duplicated('{"input":[[1,2,3],[4,5,6]],"model":"e"}'), false);
  assert.equal(duplicated('{}'), false);
  assert.equal(duplicated(`{"messages":[{"content":"${'"model":'.replaceAll('"', '\\"').repeat(1000)}"}],"model":"m"}`), false);
});

test('how deep a text nests is read from its structure, not from brackets inside strings', () => {
  // scanJson is only given text JSON.parse accepted: each case is parsed first, so none is malformed.
  const depth = (text: string): number => {
    JSON.parse(text);
    return scanJson(text).depth;
  };
  const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);
  assert.equal(depth(deep(128)), 128);
  assert.equal(depth(deep(129)), 129);
  assert.equal(depth(deep(100_000)), 100_000);
  assert.equal(depth('{}'), 1);
  assert.equal(depth('{"a":[{"b":{}}],"c":[]}'), 4);
  assert.equal(depth(String.raw`{"a":"[[[[{{{{","b":["]]]}}}\\"]}`), 2);
  assert.equal(depth(String.raw`{"a":"\\","b":"\"[{"}`), 1);
  assert.equal(depth(`{"input":[${Array.from({ length: 1000 }, () => '[1,2,3]').join(',')}]}`), 3);
});
